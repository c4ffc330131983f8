// The warm pool: up to `per_shape` prepared containers for each of the most
// recent shapes of run (what a container fixes at creation), refilled by a
// background thread after each run, so that a run finds its container
// started. Destroying the pool stops the thread and removes the containers.
// Thread-safe.
#pragma once

#include <warden/plugin.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "prepared_container.h"

namespace warden::containers {

class WarmPool {
 public:
  // Makes a container for runs shaped like the spec; throws on failure.
  using Prepare = std::function<std::unique_ptr<PreparedContainer>(const RunSpec&)>;

  // `per_shape` 0: the pool keeps nothing and starts no thread.
  WarmPool(std::size_t per_shape, Prepare prepare);
  ~WarmPool();
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  // What a container fixes at creation: tmpfs size, open files, network,
  // read-only root, uid/gid. Runs of one shape can share a pool.
  static std::string shape_of(const RunSpec& spec);

  // A live prepared container of the shape, or null. Dead ones found on the
  // way are removed.
  std::unique_ptr<PreparedContainer> take(const std::string& shape);
  // Marks the shape most recent (the least recent beyond the few kept goes,
  // with its containers) and has the thread top it up.
  void refill_later(const std::string& shape, const RunSpec& spec);

 private:
  void refill_loop();

  std::size_t per_shape_;
  Prepare prepare_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::map<std::string, std::deque<std::unique_ptr<PreparedContainer>>> pool_;  // by shape
  std::map<std::string, RunSpec> shapes_;       // a spec of each shape, to prepare from
  std::map<std::string, std::size_t> filling_;  // preparations under way, by shape
  std::deque<std::string> refills_;             // shapes to top up, oldest first
  std::deque<std::string> recent_shapes_;       // most recent last
  bool stopping_ = false;
  std::thread refiller_;
};

}  // namespace warden::containers
