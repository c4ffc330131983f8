#include "warm_pool.h"

#include <vector>

namespace warden::containers {
namespace {

// Shapes of run the pool keeps containers for; the least recent goes.
constexpr std::size_t kMaxWarmShapes = 4;

}  // namespace

WarmPool::WarmPool(std::size_t per_shape, Prepare prepare)
    : per_shape_(per_shape), prepare_(std::move(prepare)) {
  if (per_shape_ > 0) refiller_ = std::thread([this] { refill_loop(); });
}

WarmPool::~WarmPool() {
  if (refiller_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wakeup_.notify_all();
    refiller_.join();
  }
  pool_.clear();
}

std::string WarmPool::shape_of(const RunSpec& spec) {
  const Limits& l = spec.limits;
  return std::to_string(l.tmpfs_bytes) + "|" + std::to_string(l.open_files) + "|" +
         (spec.network == NetworkMode::kNone ? "none" : "bridge") + "|" +
         (spec.read_only_root ? "ro" : "rw") + "|" + std::to_string(spec.uid) + ":" +
         std::to_string(spec.gid);
}

std::unique_ptr<PreparedContainer> WarmPool::take(const std::string& shape) {
  std::vector<std::unique_ptr<PreparedContainer>> dead;  // removed outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pool_.find(shape);
  while (it != pool_.end() && !it->second.empty()) {
    std::unique_ptr<PreparedContainer> c = std::move(it->second.front());
    it->second.pop_front();
    if (c->alive()) return c;
    dead.push_back(std::move(c));
  }
  return nullptr;
}

void WarmPool::refill_later(const std::string& shape, const RunSpec& spec) {
  if (per_shape_ == 0) return;
  std::vector<std::unique_ptr<PreparedContainer>> evicted;  // removed outside the lock
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

void WarmPool::refill_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wakeup_.wait(lock, [&] { return stopping_ || !refills_.empty(); });
    if (stopping_) return;
    std::string shape = refills_.front();
    refills_.pop_front();
    auto spec = shapes_.find(shape);
    if (spec == shapes_.end() || pool_[shape].size() + filling_[shape] >= per_shape_) continue;
    ++filling_[shape];
    RunSpec copy = spec->second;
    lock.unlock();
    std::unique_ptr<PreparedContainer> c;
    try {
      c = prepare_(copy);
    } catch (const std::exception&) {
      // The engine is down or refuses: runs prepare their own and say why.
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

}  // namespace warden::containers
