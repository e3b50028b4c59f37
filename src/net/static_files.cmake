# sio_static: the static side of the server (src/net/static_files.*): the socket.io-client bundle
# from web/node_modules and the chat page from web/chat, both built in by cmake/EmbedFiles.cmake.
# Included from src/net/CMakeLists.txt. A library of its own, Beast-free and linking only
# sio_core, so that its unit test builds in seconds without sio_net.
#
# The bundle comes from npm (`npm ci --prefix web`, pinned by web/package-lock.json). Without it
# the build still succeeds, with an empty bundle table and a warning; the server then answers
# the bundle routes with 404.

cmake_path(SET _sio_static_root NORMALIZE "${CMAKE_CURRENT_LIST_DIR}/../..")
cmake_path(REMOVE_FILENAME _sio_static_root)  # NORMALIZE leaves "a/b/" for "a/b/c/../.."
include("${_sio_static_root}cmake/EmbedFiles.cmake")

add_library(sio_static STATIC "${CMAKE_CURRENT_LIST_DIR}/static_files.cpp" "${CMAKE_CURRENT_LIST_DIR}/file_jobs.cpp")
sio_target(sio_static)
target_link_libraries(sio_static PUBLIC sio_core Threads::Threads PRIVATE spdlog::spdlog)

set(_sio_client_pkg "${_sio_static_root}web/node_modules/socket.io-client")
set(_sio_client_version "")
set(_sio_client_files "")
set(_sio_client_missing "")
# Re-configure when the lock file changes (a new pinned version) or npm rewrites the package.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_sio_static_root}web/package-lock.json")
if(EXISTS "${_sio_client_pkg}/package.json")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_sio_client_pkg}/package.json")
  file(READ "${_sio_client_pkg}/package.json" _sio_json)
  string(JSON _sio_client_version ERROR_VARIABLE _sio_err GET "${_sio_json}" version)
  if(_sio_err)
    set(_sio_client_version "")
  endif()
  # node_modules left from an older lock file would build in a bundle nobody pinned.
  file(READ "${_sio_static_root}web/package-lock.json" _sio_json)
  string(JSON _sio_locked ERROR_VARIABLE _sio_err GET "${_sio_json}" packages "node_modules/socket.io-client" version)
  if(NOT _sio_err AND NOT _sio_locked STREQUAL _sio_client_version)
    message(WARNING "web/node_modules has socket.io-client ${_sio_client_version} but web/package-lock.json pins "
                    "${_sio_locked}: run `npm ci --prefix web` and re-run cmake")
  endif()
endif()
foreach(_sio_name IN ITEMS
    socket.io.js socket.io.js.map socket.io.min.js socket.io.min.js.map
    socket.io.esm.min.js socket.io.esm.min.js.map socket.io.msgpack.min.js socket.io.msgpack.min.js.map)
  if(EXISTS "${_sio_client_pkg}/dist/${_sio_name}")
    list(APPEND _sio_client_files "${_sio_name}")
  else()
    list(APPEND _sio_client_missing "${_sio_name}")
  endif()
endforeach()
if(_sio_client_missing)
  list(JOIN _sio_client_missing ", " _sio_client_missing)
  message(WARNING "The Socket.IO client bundle is incomplete (missing: ${_sio_client_missing}) in "
                  "${_sio_client_pkg}/dist. Run `npm ci --prefix web` (from the repository root) and "
                  "build again. Building without those files: the server answers them with 404.")
  # npm creating web/node_modules changes web/'s mtime: the next build re-configures and picks
  # the bundle up. (A dependency on the missing file itself would leave ninja's manifest dirty
  # forever.)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_sio_static_root}web")
endif()

sio_embed_files(TARGET sio_static NAME client_bundle COMPRESS
  BASE_DIR "${_sio_client_pkg}/dist"
  FILES ${_sio_client_files}
  VERSION "${_sio_client_version}")
sio_embed_files(TARGET sio_static NAME chat_page COMPRESS
  BASE_DIR "${_sio_static_root}web/chat"
  FILES index.html app.js style.css)
