# Installed with the SDK. warden_add_plugin(NAME SOURCES...) builds a plugin
# module named NAME.so that links only the SDK headers, with the settings the
# host expects: no lib prefix, hidden symbols except the entry point, and no
# undefined symbols left for load time.
function(warden_add_plugin name)
  cmake_parse_arguments(PLUGIN "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${PLUGIN_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
                                           VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${name} PRIVATE warden::sdk ${PLUGIN_LIBRARIES})
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
