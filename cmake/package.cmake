# The Debian package. `make deb` configures its own tree with
#   -DOG_PACKAGE=ON -DCMAKE_INSTALL_PREFIX=/usr -DOG_BUILD_TESTS=OFF
# builds it and runs `cpack -G DEB`, which writes omnigate_<version>-1_<arch>.deb.
#
# OG_PACKAGE adds what only the system package installs: the systemd unit
# (packaging/omnigate.service, which runs /usr/bin/omnigate as user omnigate)
# and /etc/omnigate/omnigate.json, the service's configuration (a conffile:
# config/omnigate.system.json). The maintainer scripts in packaging/ create
# the user, its state directory and /etc/omnigate/omnigate.env (a random
# admin token), and enable the service where systemd runs.
option(OG_PACKAGE "Install the .deb's system files (systemd unit, /etc/omnigate)" OFF)
set(OG_DEB_MAINTAINER "omnigate maintainers <maintainers@example.com>"
    CACHE STRING "The Maintainer field of the .deb")

if(OG_PACKAGE)
  if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "OG_PACKAGE needs -DCMAKE_INSTALL_PREFIX=/usr "
                        "(the unit runs /usr/bin/omnigate); got ${CMAKE_INSTALL_PREFIX}")
  endif()
  install(FILES packaging/omnigate.service DESTINATION lib/systemd/system)
  # Absolute on purpose: /etc, not /usr/etc.
  install(FILES config/omnigate.system.json DESTINATION /etc/omnigate RENAME omnigate.json)
  install(FILES LICENSE DESTINATION share/doc/omnigate RENAME copyright)
else()
  return() # no CPack: only a package tree makes a package
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME omnigate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "omnichannel connector gateway")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${OG_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "omnigate bridges messengers (Telegram, WhatsApp, Facebook Messenger, LINE,\n\
VK and plugins of your own) into one inbox for agents, and emits what\n\
happens as signed webhooks. All state is in Redis: by default its own\n\
redis-server (the embedded mode), or a shared one.")
# The libraries' packages come from dpkg-shlibdeps (the daemon and every
# connector); redis-server for the embedded mode; adduser for postinst;
# ca-certificates for the platforms' HTTPS and SMTP's STARTTLS.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "redis-server, adduser, ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm ${PROJECT_SOURCE_DIR}/packaging/conffiles)
# Scripts 0755, other control files 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
