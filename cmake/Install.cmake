# `cmake --install`: the library (the static layer libraries behind one target,
# socketio::socketio), its public headers (include/socketio/, the Redis adapter's included), a
# CMake package (find_package(socketio CONFIG REQUIRED)), the socketio-server binary, its
# systemd unit, default config and man page (the Debian package, scripts/package.sh, is CPack
# over these same rules).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# What a consumer links: every layer (static), the Redis adapter included.
set(SIO_INSTALLED_LIBS sio_core sio_eio_parser sio_sio_parser sio_net sio_static sio_eio sio_sio
                       sio_redis_codec sio_redis sio_topology sio_admin)
add_library(socketio INTERFACE)
target_link_libraries(socketio INTERFACE ${SIO_INSTALLED_LIBS})
target_include_directories(socketio INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(socketio INTERFACE cxx_std_20)
add_library(socketio::socketio ALIAS socketio)

install(TARGETS socketio ${SIO_INSTALLED_LIBS}
  EXPORT socketioTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/socketio DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT socketioTargets NAMESPACE socketio:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/socketio
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/socketioConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/socketioConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/socketio)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/socketioConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/socketioConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/socketioConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/socketio COMPONENT dev)

# The server and what a system installation of it needs.
install(TARGETS socketio-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/socketio-server.service
  DESTINATION lib/systemd/system COMPONENT server)
# FULL: /etc when the prefix is /usr (the package, scripts/package.sh), else under the prefix.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/socketio-server.toml
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/socketio-server COMPONENT server)
# Man page and changelog compressed as Debian wants them (-n: no time stamp, reproducible).
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/socketio-server.1.gz
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/deploy/man/socketio-server.1 > ${CMAKE_CURRENT_BINARY_DIR}/socketio-server.1.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/man/socketio-server.1)
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/deploy/debian/changelog > ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
  DEPENDS ${PROJECT_SOURCE_DIR}/deploy/debian/changelog)
add_custom_target(sio_package_docs ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/socketio-server.1.gz
                                               ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/socketio-server.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/socketio-server COMPONENT server)
