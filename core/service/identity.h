// Who is on the other end of a unix socket, as the kernel says: the peer
// credentials (SO_PEERCRED) taken when the connection was made, not a name
// the peer typed.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace warden::service {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The credentials of the peer of the connected unix socket `fd`. Throws
// warden::Error(kEnvironment) when the kernel does not say.
PeerCredentials peer_credentials(int fd);

// The login name of `uid` from the passwd database, or "uid:<n>" when it has
// none. Thread-safe.
std::string user_name(uid_t uid);

// A connection to the unix socket at `path` (close-on-exec), or -1 when
// nothing accepts there (no socket, a stale one, a path too long for a unix
// socket). The caller owns the descriptor.
int connect_to(const std::filesystem::path& path);

}  // namespace warden::service
