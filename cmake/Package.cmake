# The Debian package of socketio-server (CPack DEB over the "server" install component, see
# cmake/Install.cmake): the binary, the systemd unit, /etc/socketio-server/socketio-server.toml
# (a conffile), the man page. Built by scripts/package.sh; tested by tests/package/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME socketio-server)
set(CPACK_PACKAGE_VENDOR "socketio-server")
set(SIO_PACKAGE_MAINTAINER "socketio-server maintainers <socketio-server@users.noreply.github.com>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${SIO_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Socket.IO server (Engine.IO v4, Socket.IO v5) in C++")
# The extended description (the synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY).
set(CPACK_DEBIAN_SERVER_DESCRIPTION "socketio-server speaks Socket.IO exactly as the Node.js
reference server, so the official socket.io-client works against it
unchanged: long-polling, WebSocket, namespaces, rooms, acknowledgements,
TLS, Prometheus metrics, health checks and a cluster through Redis.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME socketio-server)
set(CPACK_DEBIAN_SERVER_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://socket.io/")
# The shared libraries it links (OpenSSL, hiredis, libstdc++...) become Depends.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/deploy/debian/conffiles")
include(CPack)
