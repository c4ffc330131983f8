// Ed25519 keys and C2SP signed notes (checkpoints): the log signs with the
// private key; verifying needs only the public key, written in the C2SP
// verifier-key form "<name>+<hex key id>+<base64(0x01 || public key)>".
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace warden::audit {

class NoteSigner {
 public:
  // Writes a new key pair: the private key (PEM, mode 0600, folder 0700) and
  // the verifier key beside it. Throws Error(kEnvironment) on failure and
  // Error(kInvalidInput) if the private key file exists already.
  static void generate(const std::filesystem::path& private_key,
                       const std::filesystem::path& public_key, const std::string& name);
  // Loads the private key. Refuses a key file readable by others.
  static NoteSigner load(const std::filesystem::path& private_key, const std::string& name);

  // "<text>\n— <name> <base64(key id || signature)>\n"; text must end in "\n".
  std::string sign(const std::string& text) const;
  std::string verifier_key() const;

  NoteSigner(NoteSigner&&) noexcept;
  ~NoteSigner();

 private:
  NoteSigner();
  struct Key;
  std::unique_ptr<Key> key_;
  std::string name_;
};

// Checks a signed note against a verifier key; returns the note text when the
// key's signature is valid, or throws Error(kRefused) saying why not.
std::string verify_note(const std::string& note, const std::string& verifier_key);

// Reads a verifier key from a file (trimmed).
std::string read_verifier_key(const std::filesystem::path& path);

}  // namespace warden::audit
