# Compiler options shared by every target of the project: warnings, sanitizers.
add_library(sio_options INTERFACE)
target_compile_options(sio_options INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(SIO_WERROR)
  target_compile_options(sio_options INTERFACE -Werror)
endif()
if(SIO_SANITIZE)
  target_compile_options(sio_options INTERFACE -fsanitize=${SIO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(sio_options INTERFACE -fsanitize=${SIO_SANITIZE})
  if(SIO_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio uses std::atomic_thread_fence, which GCC's TSan cannot instrument (-Wtsan); the
    # fences only order memory that TSan sees through the surrounding atomics anyway.
    target_compile_options(sio_options INTERFACE -Wno-tsan)
  endif()
endif()

# Every library and executable of the project links this to get the same flags.
# BUILD_INTERFACE: the warnings, -Werror and sanitizers and the source tree stay out of what
# `cmake --install` exports (cmake/Install.cmake); installed, the headers are under include/.
function(sio_target name)
  target_link_libraries(${name} PUBLIC $<BUILD_INTERFACE:sio_options>)
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                                            $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
endfunction()
