#include "audit/note_signer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>
#include <warden/error.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "audit/merkle.h"
#include "common/text.h"

namespace warden::audit {
namespace fs = std::filesystem;

namespace {

const std::string kEmDash = "\xE2\x80\x94";  // U+2014, as signed-note lines begin

std::string raw_public_key(EVP_PKEY* key) {
  unsigned char pub[32];
  std::size_t len = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(key, pub, &len) != 1 || len != 32)
    throw Error(ErrorKind::kInternal, "cannot read the Ed25519 public key");
  return std::string(reinterpret_cast<char*>(pub), 32);
}

// C2SP signed-note key id: SHA-256(name || 0x0A || 0x01 || public key)[:4].
std::string key_id(const std::string& name, const std::string& pub) {
  Hash h = sha256(name + "\n" + std::string(1, '\x01') + pub);
  return std::string(reinterpret_cast<const char*>(h.data()), 4);
}

}  // namespace

struct NoteSigner::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

NoteSigner::NoteSigner() : key_(std::make_unique<Key>()) {}
NoteSigner::NoteSigner(NoteSigner&&) noexcept = default;
NoteSigner::~NoteSigner() = default;

void NoteSigner::generate(const fs::path& private_key, const fs::path& public_key,
                          const std::string& name) {
  if (fs::exists(private_key))
    throw Error(ErrorKind::kInvalidInput,
                private_key.string() + ": a key exists already; refusing to overwrite it");
  std::error_code ec;
  fs::create_directories(private_key.parent_path(), ec);
  ::chmod(private_key.parent_path().c_str(), 0700);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
    EVP_PKEY_CTX_free(ctx);
    throw Error(ErrorKind::kInternal, "Ed25519 key generation failed");
  }
  EVP_PKEY_CTX_free(ctx);
  NoteSigner signer;
  signer.key_->pkey = pkey;
  signer.name_ = name;
  // Crash-safe: both files are written to temporaries, the public key is put
  // in place first and the private key last, so a private key on disk always
  // has its public key beside it. link() refuses to replace a key another
  // process made meanwhile.
  std::string suffix = ".tmp-" + std::to_string(::getpid());
  fs::path private_tmp = private_key.string() + suffix;
  fs::path public_tmp = public_key.string() + suffix;
  auto write_new = [](const fs::path& path, mode_t mode, const auto& write) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
    if (!f) {
      if (fd >= 0) ::close(fd);
      throw Error(ErrorKind::kEnvironment, path.string() + ": cannot create the key file");
    }
    bool ok = write(f) && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) throw Error(ErrorKind::kEnvironment, path.string() + ": cannot write the key");
  };
  try {
    write_new(private_tmp, 0600, [&](FILE* f) {
      return PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    write_new(public_tmp, 0644,
              [&](FILE* f) { return std::fprintf(f, "%s\n", signer.verifier_key().c_str()) > 0; });
    if (::rename(public_tmp.c_str(), public_key.c_str()) != 0)
      throw Error(ErrorKind::kEnvironment, public_key.string() + ": cannot put the key in place");
    if (::link(private_tmp.c_str(), private_key.c_str()) != 0)
      throw Error(ErrorKind::kEnvironment,
                  private_key.string() + (errno == EEXIST
                                              ? ": a key exists already; refusing to overwrite it"
                                              : ": cannot put the key in place"));
  } catch (...) {
    ::unlink(private_tmp.c_str());
    ::unlink(public_tmp.c_str());
    throw;
  }
  ::unlink(private_tmp.c_str());
  if (int dir = ::open(private_key.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

NoteSigner NoteSigner::load(const fs::path& private_key, const std::string& name) {
  struct stat st {};
  if (::stat(private_key.c_str(), &st) != 0)
    throw Error(
        ErrorKind::kEnvironment,
        private_key.string() + ": no audit signing key; create one with 'warden audit keygen'");
  if (st.st_mode & 077)
    throw Error(ErrorKind::kEnvironment, private_key.string() +
                                             ": the signing key can be read by others (mode " +
                                             std::to_string(st.st_mode & 0777) +
                                             "); run 'chmod 600 " + private_key.string() + "'");
  FILE* f = std::fopen(private_key.c_str(), "r");
  EVP_PKEY* pkey = f ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr) : nullptr;
  if (f) std::fclose(f);
  if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    throw Error(ErrorKind::kEnvironment, private_key.string() + ": not an Ed25519 private key");
  }
  NoteSigner signer;
  signer.key_->pkey = pkey;
  signer.name_ = name;
  return signer;
}

std::string NoteSigner::verifier_key() const {
  std::string pub = raw_public_key(key_->pkey);
  return name_ + "+" + warden::to_hex(key_id(name_, pub)) + "+" +
         to_base64(std::string(1, '\x01') + pub);
}

std::string NoteSigner::sign(const std::string& text) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  std::size_t sig_len = sizeof sig;
  bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(text.data()),
                           text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw Error(ErrorKind::kInternal, "Ed25519 signing failed");
  std::string blob = key_id(name_, raw_public_key(key_->pkey)) +
                     std::string(reinterpret_cast<char*>(sig), sig_len);
  return text + "\n" + kEmDash + " " + name_ + " " + to_base64(blob) + "\n";
}

std::string verify_note(const std::string& note, const std::string& verifier_key) {
  auto fail = [](const std::string& why) {
    return Error(ErrorKind::kRefused, "checkpoint: " + why);
  };
  std::size_t plus1 = verifier_key.find('+');
  std::size_t plus2 = plus1 == std::string::npos ? plus1 : verifier_key.find('+', plus1 + 1);
  if (plus2 == std::string::npos) throw fail("malformed verifier key");
  std::string name = verifier_key.substr(0, plus1);
  std::string key_bytes;
  if (!from_base64(verifier_key.substr(plus2 + 1), key_bytes) || key_bytes.size() != 33 ||
      key_bytes[0] != 1)
    throw fail("malformed verifier key");
  std::string pub = key_bytes.substr(1);
  std::size_t split = note.find("\n\n");
  if (split == std::string::npos) throw fail("no signature lines (not a signed note)");
  std::string text = note.substr(0, split + 1);
  std::istringstream lines(note.substr(split + 2));
  std::string line;
  std::string expected_id = key_id(name, pub);
  bool saw_key = false;
  while (std::getline(lines, line)) {
    std::string prefix = kEmDash + " " + name + " ";
    if (line.rfind(prefix, 0) != 0) continue;  // other signers' lines are ignored
    std::string blob;
    if (!from_base64(line.substr(prefix.size()), blob) || blob.size() != 68)
      throw fail("malformed signature line");
    if (blob.substr(0, 4) != expected_id) continue;
    saw_key = true;
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(pub.data()), 32);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok =
        pkey && ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
        EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(blob.data() + 4), 64,
                         reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    if (ok) return text;
  }
  throw fail(saw_key ? "the signature does not match the checkpoint (forged or changed)"
                     : "not signed by the key " + name);
}

std::string read_verifier_key(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::kInvalidInput, path.string() + ": cannot read the public key");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  return key;
}

}  // namespace warden::audit
