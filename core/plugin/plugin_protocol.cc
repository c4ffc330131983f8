#include "plugin/plugin_protocol.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace warden::plugin_protocol {
namespace {

using Clock = std::chrono::steady_clock;

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= std::uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return value;
}

// Reads exactly `size` bytes into `out`.
void read_exactly(int fd, char* out, std::size_t size, Clock::time_point deadline,
                  const std::function<bool()>& cancelled) {
  std::size_t done = 0;
  while (done < size) {
    if (cancelled && cancelled())
      throw ChannelError(ChannelError::Why::kCancelled, "the call was cancelled");
    auto now = Clock::now();
    if (now >= deadline) throw ChannelError(ChannelError::Why::kTimedOut, "no answer in time");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    // Wake up now and then to look at `cancelled`.
    int wait_ms = static_cast<int>(std::min<long long>(left, cancelled ? 20 : 1000));
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno != EINTR)
      throw ChannelError(ChannelError::Why::kClosed, std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    ssize_t n = ::recv(fd, out + done, size - done, 0);
    if (n == 0) throw ChannelError(ChannelError::Why::kClosed, "the channel was closed");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw ChannelError(ChannelError::Why::kClosed, std::string("recv: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void send_message(int fd, const std::vector<std::string>& fields) {
  std::string payload;
  put_u32(payload, static_cast<std::uint32_t>(fields.size()));
  for (const auto& f : fields) {
    put_u32(payload, static_cast<std::uint32_t>(f.size()));
    payload += f;
  }
  if (payload.size() > kMaxMessageBytes)
    throw ChannelError(ChannelError::Why::kMalformed, "message too large to send");
  std::string frame;
  put_u32(frame, static_cast<std::uint32_t>(payload.size()));
  frame += payload;
  std::size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ChannelError(ChannelError::Why::kClosed, std::string("send: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

std::vector<std::string> receive_message(int fd, Clock::time_point deadline,
                                         const std::function<bool()>& cancelled) {
  char header[4];
  read_exactly(fd, header, sizeof header, deadline, cancelled);
  std::uint32_t size = get_u32(header);
  if (size < 4 || size > kMaxMessageBytes)
    throw ChannelError(ChannelError::Why::kMalformed,
                       "a message announced " + std::to_string(size) + " bytes");
  std::string payload(size, '\0');
  read_exactly(fd, payload.data(), size, deadline, cancelled);
  std::uint32_t count = get_u32(payload.data());
  std::size_t at = 4;
  std::vector<std::string> fields;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (payload.size() - at < 4)
      throw ChannelError(ChannelError::Why::kMalformed, "a message ends inside a field header");
    std::uint32_t length = get_u32(payload.data() + at);
    at += 4;
    if (payload.size() - at < length)
      throw ChannelError(ChannelError::Why::kMalformed, "a field runs past the end of its message");
    fields.emplace_back(payload, at, length);
    at += length;
  }
  if (at != payload.size())
    throw ChannelError(ChannelError::Why::kMalformed, "a message has bytes after its last field");
  return fields;
}

}  // namespace warden::plugin_protocol
