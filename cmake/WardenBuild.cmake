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

# warden_add_plugin(NAME SOURCES... [LIBRARIES ...]): builds an in-tree plugin
# into the plugin folder of the build tree and installs it.
function(warden_add_plugin name)
  cmake_parse_arguments(PLUGIN "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(warden_plugin_${name} MODULE ${PLUGIN_SOURCES})
  set_target_properties(warden_plugin_${name} PROPERTIES OUTPUT_NAME ${name} PREFIX ""
                        LIBRARY_OUTPUT_DIRECTORY ${WARDEN_PLUGIN_OUTPUT_DIR})
  target_link_libraries(warden_plugin_${name} PRIVATE warden::sdk ${PLUGIN_LIBRARIES})
  target_link_options(warden_plugin_${name} PRIVATE -Wl,--no-undefined)
  warden_target_defaults(warden_plugin_${name})
  install(TARGETS warden_plugin_${name} LIBRARY DESTINATION ${WARDEN_PLUGIN_INSTALL_DIR})
  # Packagings that ship the plugins their own way (the Python wheel) find them here.
  set_property(GLOBAL APPEND PROPERTY WARDEN_PLUGIN_TARGETS warden_plugin_${name})
endfunction()
