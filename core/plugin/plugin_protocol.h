// The framed protocol between warden and warden-plugin-host, the helper
// process that runs one third-party assessor plugin (docs/plugin-abi.md,
// "Plugins out of process").
//
// A message is a list of byte strings: a 4-byte little-endian payload length,
// then the payload: a 4-byte field count, then each field as a 4-byte length
// and its bytes. Fields are raw bytes, so code and plugin output cross
// unchanged whatever their encoding. Nothing else is ever written to the
// channel, so anything that does not parse is a broken or hostile helper.
//
// Thread safety: none; one thread uses a channel at a time.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace warden::plugin_protocol {

// Largest message either side accepts (findings of one assessment fit easily).
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024 * 1024;

// Why a message could not be exchanged: the peer closed the channel, broke
// the framing, or did not answer in time.
class ChannelError : public std::runtime_error {
 public:
  enum class Why { kClosed, kMalformed, kTimedOut, kCancelled };
  ChannelError(Why why, const std::string& message) : std::runtime_error(message), why_(why) {}
  Why why() const noexcept { return why_; }

 private:
  Why why_;
};

// Writes one message to `fd` (a socket). Throws ChannelError(kClosed) when the
// peer is gone.
void send_message(int fd, const std::vector<std::string>& fields);

// Reads one message from `fd`. Waits until `deadline`, checking `cancelled`
// (when set) every few milliseconds. Throws ChannelError with the reason.
std::vector<std::string> receive_message(
    int fd,
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
    const std::function<bool()>& cancelled = {});

}  // namespace warden::plugin_protocol
