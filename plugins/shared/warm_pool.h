// The warm pool: up to `per_shape` prepared sandboxes for each of the most
// recent shapes of run (what a sandbox fixes when it starts), refilled by a
// background thread after each run, so that a run finds its sandbox started.
// The same thread tears down the sandboxes runs are done with (retire_later),
// off the runs' critical path. Destroying the pool stops the thread and tears
// down every sandbox it holds. Thread-safe.
//
// `Sandbox` needs `bool alive() const` (false once the sandbox ended while it
// waited) and a destructor that tears it down. The backends' sandboxes:
// containers (container/prepared_container.h), native (native/warm_sandbox.h).
//
// The refill thread lives as long as the pool: a sandbox it starts may tie
// its life to the thread that started it (PR_SET_PDEATHSIG is per thread).
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
#include <vector>

namespace warden::sandboxing {

template <class Sandbox>
class WarmPool {
 public:
  // Makes a sandbox for runs shaped like the spec; throws on failure.
  using Prepare = std::function<std::unique_ptr<Sandbox>(const RunSpec&)>;

  // `per_shape` 0: the pool keeps nothing and starts no thread.
  WarmPool(std::size_t per_shape, Prepare prepare)
      : per_shape_(per_shape), prepare_(std::move(prepare)) {
    if (per_shape_ > 0) refiller_ = std::thread([this] { refill_loop(); });
  }
  ~WarmPool() {
    if (refiller_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      wakeup_.notify_all();
      refiller_.join();
    }
    retired_.clear();
    pool_.clear();
  }
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  std::size_t per_shape() const { return per_shape_; }

  // A live prepared sandbox of the shape, or null. Dead ones found on the
  // way are torn down.
  std::unique_ptr<Sandbox> take(const std::string& shape) {
    std::vector<std::unique_ptr<Sandbox>> dead;  // torn down outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pool_.find(shape);
    while (it != pool_.end() && !it->second.empty()) {
      std::unique_ptr<Sandbox> c = std::move(it->second.front());
      it->second.pop_front();
      if (c->alive()) return c;
      dead.push_back(std::move(c));
    }
    return nullptr;
  }

  // Marks the shape most recent (the least recent beyond the few kept goes,
  // with its sandboxes) and has the thread top it up.
  void refill_later(const std::string& shape, const RunSpec& spec) {
    if (per_shape_ == 0) return;
    std::vector<std::unique_ptr<Sandbox>> evicted;  // torn down outside the lock
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shapes_[shape] = spec;
      std::erase(recent_shapes_, shape);
      recent_shapes_.push_back(shape);
      while (recent_shapes_.size() > kMaxWarmShapes) {
        std::string oldest = recent_shapes_.front();
        recent_shapes_.pop_front();
        for (auto& c : pool_[oldest]) evicted.push_back(std::move(c));
        pool_.erase(oldest);
        shapes_.erase(oldest);
        std::erase(refills_, oldest);
      }
      refills_.push_back(shape);
    }
    wakeup_.notify_one();
  }

  // Has the thread tear the sandbox down (before any refill); without a
  // thread, it goes at once.
  void retire_later(std::unique_ptr<Sandbox> used) {
    if (!used) return;
    if (per_shape_ == 0) return;  // `used` goes here
    {
      std::lock_guard<std::mutex> lock(mutex_);
      retired_.push_back(std::move(used));
    }
    wakeup_.notify_one();
  }

 private:
  // Shapes of run the pool keeps sandboxes for; the least recent goes.
  static constexpr std::size_t kMaxWarmShapes = 4;

  void refill_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wakeup_.wait(lock, [&] { return stopping_ || !refills_.empty() || !retired_.empty(); });
      if (stopping_) return;
      if (!retired_.empty()) {
        std::vector<std::unique_ptr<Sandbox>> done;
        done.swap(retired_);
        lock.unlock();
        done.clear();
        lock.lock();
        continue;
      }
      std::string shape = refills_.front();
      refills_.pop_front();
      auto spec = shapes_.find(shape);
      if (spec == shapes_.end() || pool_[shape].size() + filling_[shape] >= per_shape_) continue;
      ++filling_[shape];
      RunSpec copy = spec->second;
      lock.unlock();
      std::unique_ptr<Sandbox> c;
      try {
        c = prepare_(copy);
      } catch (const std::exception&) {
        // The backend cannot start one now: runs prepare their own and say why.
      }
      lock.lock();
      --filling_[shape];
      if (!c || !shapes_.count(shape) || stopping_) {
        lock.unlock();
        c.reset();
        lock.lock();
        if (stopping_) return;
        continue;
      }
      pool_[shape].push_back(std::move(c));
      if (pool_[shape].size() + filling_[shape] < per_shape_) refills_.push_back(shape);
    }
  }

  std::size_t per_shape_;
  Prepare prepare_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::map<std::string, std::deque<std::unique_ptr<Sandbox>>> pool_;  // by shape
  std::map<std::string, RunSpec> shapes_;          // a spec of each shape, to prepare from
  std::map<std::string, std::size_t> filling_;     // preparations under way, by shape
  std::deque<std::string> refills_;                // shapes to top up, oldest first
  std::deque<std::string> recent_shapes_;          // most recent last
  std::vector<std::unique_ptr<Sandbox>> retired_;  // used sandboxes to tear down
  bool stopping_ = false;
  std::thread refiller_;
};

}  // namespace warden::sandboxing
