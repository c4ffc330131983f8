// Where warden's own files are. The build tree mirrors the install tree
// (bin/, lib/warden/plugins/, share/warden/{config,policies}), so one rule
// finds them in both: they sit beside the binary that contains the core.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace warden {

// The installation prefix: the folder above bin/ or lib/ holding the binary
// (program or shared library) that contains this code.
std::filesystem::path install_root();

// <root>/lib/warden/plugins
std::filesystem::path default_plugin_directory();

// <root>/share/warden
std::filesystem::path data_directory();

// The configuration file: `explicit_path` when not empty, then $WARDEN_CONFIG,
// then <root>/share/warden/config/warden.yaml.
std::filesystem::path resolve_config_path(const std::string& explicit_path);

// Expands a leading "~/" ($HOME, else the home folder of the user's passwd
// entry), ${VAR} / $VAR references and ${VAR:-fallback} (the fallback, itself
// expanded, when VAR is unset or empty), then makes a relative path absolute
// against `base`. Throws warden::Error (kConfig) naming the variable when one
// without a fallback is unset; `what` names the field for that message.
std::filesystem::path expand_path(std::string_view text, const std::filesystem::path& base,
                                  std::string_view what);

}  // namespace warden
