// Where an in-tree plugin finds the data files installed with it.
#pragma once

#include <filesystem>
#include <string>

namespace warden::tools {

// The plugin file (<libdir>/warden/plugins/<name>.so) that contains this
// code, found once; empty when it cannot be told.
const std::filesystem::path& plugin_file();

// <root>/share/warden/plugins/<name>, where <root> is the install (or build)
// tree holding the plugin file <root>/lib/warden/plugins/<name>.so that
// contains this code. See warden_add_plugin(... DATA ...).
std::filesystem::path plugin_data_directory(const std::string& name);

// The virtualenv of the Python analysis tools: $WARDEN_TOOLS_VENV, else
// /opt/warden/tools (scripts/install-python-tools.sh makes it).
std::filesystem::path tools_virtualenv();

}  // namespace warden::tools
