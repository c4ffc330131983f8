# Compiler settings for warden's own targets: warnings as errors, optional
# sanitizers. Third-party code is never built with these.

function(warden_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  if(WARDEN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${WARDEN_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${WARDEN_SANITIZE})
  endif()
endfunction()

# warden_add_plugin(NAME SOURCES... [LIBRARIES ...] [DATA DIR]): builds an
# in-tree plugin into the plugin folder of the build tree and installs it.
# DATA is a folder of files the plugin reads at run time (a worker script,
# rule files): it becomes <root>/share/warden/plugins/NAME in the build tree
# (a symlink), the install tree and the Python wheel.
function(warden_add_plugin name)
  cmake_parse_arguments(PLUGIN "" "DATA" "SOURCES;LIBRARIES" ${ARGN})
  add_library(warden_plugin_${name} MODULE ${PLUGIN_SOURCES})
  set_target_properties(warden_plugin_${name} PROPERTIES OUTPUT_NAME ${name} PREFIX ""
                        LIBRARY_OUTPUT_DIRECTORY ${WARDEN_PLUGIN_OUTPUT_DIR})
  target_link_libraries(warden_plugin_${name} PRIVATE warden::sdk ${PLUGIN_LIBRARIES})
  target_link_options(warden_plugin_${name} PRIVATE -Wl,--no-undefined)
  warden_target_defaults(warden_plugin_${name})
  install(TARGETS warden_plugin_${name} LIBRARY DESTINATION ${WARDEN_PLUGIN_INSTALL_DIR})
  # Packagings that ship the plugins their own way (the Python wheel) find them here.
  set_property(GLOBAL APPEND PROPERTY WARDEN_PLUGIN_TARGETS warden_plugin_${name})
  if(PLUGIN_DATA)
    get_filename_component(data ${PLUGIN_DATA} ABSOLUTE)
    file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/${CMAKE_INSTALL_DATADIR}/warden/plugins)
    file(CREATE_LINK ${data} ${PROJECT_BINARY_DIR}/${CMAKE_INSTALL_DATADIR}/warden/plugins/${name}
         SYMBOLIC)
    install(DIRECTORY ${data}/ DESTINATION ${WARDEN_DATA_INSTALL_DIR}/plugins/${name})
    set_property(GLOBAL APPEND PROPERTY WARDEN_PLUGIN_DATA "${name}=${data}")
  endif()
endfunction()
