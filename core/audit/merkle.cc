#include "audit/merkle.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <bit>

#include <warden/error.h>

#include "common/text.h"

namespace warden::audit {
namespace {

std::uint64_t largest_power_of_two_below(std::uint64_t n) {
  return n < 2 ? 0 : std::bit_floor(n - 1);
}

// Leaves [base, base + leaves.size()) and the frontier standing in for [0, base).
struct LeafView {
  std::uint64_t base = 0;
  std::span<const Hash> frontier;
  std::span<const Hash> leaves;
};

[[noreturn]] void pruned(std::uint64_t begin, std::uint64_t base) {
  throw Error(ErrorKind::kInvalidInput,
              "leaf " + std::to_string(begin) + " lies before the retention cut at " +
                  std::to_string(base) +
                  ": its records were deleted, so this root or proof cannot be computed");
}

Hash subtree(const LeafView& v, std::uint64_t begin, std::uint64_t end) {
  if (begin < v.base) {
    // Find the frontier subtree holding `begin`: the set bits of base, largest first.
    std::uint64_t start = 0;
    std::size_t i = 0;
    for (int bit = 63; bit >= 0; --bit) {
      std::uint64_t size = std::uint64_t{1} << bit;
      if (!(v.base & size)) continue;
      if (begin < start + size) {
        if (begin == start && end == start + size) return v.frontier[i];
        if (end <= start + size) pruned(begin, v.base);  // inside a deleted subtree
        break;
      }
      start += size;
      ++i;
    }
  }
  std::uint64_t n = end - begin;
  if (n == 1) return v.leaves[begin - v.base];
  std::uint64_t k = largest_power_of_two_below(n);
  return node_hash(subtree(v, begin, begin + k), subtree(v, begin + k, end));
}

// RFC 9162 §2.1.3.1 PATH(m, D[n]).
void path(const LeafView& v, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
          std::vector<Hash>& out) {
  std::uint64_t n = end - begin;
  if (n <= 1) return;
  std::uint64_t k = largest_power_of_two_below(n);
  if (m < k) {
    path(v, m, begin, begin + k, out);
    out.push_back(subtree(v, begin + k, end));
  } else {
    path(v, m - k, begin + k, end, out);
    out.push_back(subtree(v, begin, begin + k));
  }
}

// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
void subproof(const LeafView& v, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
              bool complete, std::vector<Hash>& out) {
  std::uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out.push_back(subtree(v, begin, end));
    return;
  }
  std::uint64_t k = largest_power_of_two_below(n);
  if (m <= k) {
    subproof(v, m, begin, begin + k, complete, out);
    out.push_back(subtree(v, begin + k, end));
  } else {
    subproof(v, m - k, begin + k, end, false, out);
    out.push_back(subtree(v, begin, begin + k));
  }
}

LeafView view_of(const std::vector<Hash>& leaves) {
  return {0, {}, leaves};
}

LeafView view_of(const PrunedLeaves& tree) {
  return {tree.base, tree.frontier, tree.leaves};
}

Hash root_of(const LeafView& v, std::uint64_t size) {
  if (size == 0) return sha256("");
  return subtree(v, 0, size);
}

std::vector<Hash> inclusion_of(const LeafView& v, std::uint64_t index, std::uint64_t size) {
  std::vector<Hash> out;
  if (index < size && size <= v.base + v.leaves.size()) path(v, index, 0, size, out);
  return out;
}

std::vector<Hash> consistency_of(const LeafView& v, std::uint64_t old_size,
                                 std::uint64_t new_size) {
  std::vector<Hash> out;
  if (old_size > 0 && old_size < new_size && new_size <= v.base + v.leaves.size())
    subproof(v, old_size, 0, new_size, true, out);
  return out;
}

// SHA-256 of prefix || data. The digest is fetched once and each thread
// reuses one context: SHA256() and EVP_sha256() look the algorithm up by name
// under a lock and allocate a context per call, which was most of the cost
// of hashing small records.
Hash prefixed_sha256(const unsigned char* prefix, std::size_t prefix_size, std::string_view data) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  static thread_local Context context;
  Hash h;
  bool ok = kSha256 && context.ctx && EVP_DigestInit_ex2(context.ctx, kSha256, nullptr) == 1 &&
            (prefix_size == 0 || EVP_DigestUpdate(context.ctx, prefix, prefix_size) == 1) &&
            EVP_DigestUpdate(context.ctx, data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(context.ctx, h.data(), nullptr) == 1;
  if (!ok) throw Error(ErrorKind::kInternal, "OpenSSL SHA-256 failed");
  return h;
}

}  // namespace

Hash sha256(std::string_view data) {
  return prefixed_sha256(nullptr, 0, data);
}

Hash leaf_hash(std::string_view data) {
  const unsigned char prefix = 0x00;
  return prefixed_sha256(&prefix, 1, data);
}

Hash node_hash(const Hash& left, const Hash& right) {
  unsigned char buffer[65];
  buffer[0] = 0x01;
  std::copy(left.begin(), left.end(), buffer + 1);
  std::copy(right.begin(), right.end(), buffer + 33);
  return prefixed_sha256(buffer, sizeof buffer, {});
}

std::string to_hex(const Hash& h) {
  return warden::to_hex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

Hash tree_root(const std::vector<Hash>& leaves, std::size_t size) {
  return root_of(view_of(leaves), size);
}

Hash tree_root(const PrunedLeaves& tree, std::uint64_t size) {
  return root_of(view_of(tree), size);
}

std::vector<Hash> inclusion_proof(const PrunedLeaves& tree, std::uint64_t index,
                                  std::uint64_t size) {
  return inclusion_of(view_of(tree), index, size);
}

std::vector<Hash> consistency_proof(const PrunedLeaves& tree, std::uint64_t old_size,
                                    std::uint64_t new_size) {
  return consistency_of(view_of(tree), old_size, new_size);
}

CompactTree CompactTree::from_frontier(std::uint64_t size, std::vector<Hash> frontier) {
  if (frontier.size() != static_cast<std::size_t>(std::popcount(size)))
    throw Error(ErrorKind::kInvalidInput, "a tree of " + std::to_string(size) + " leaves has " +
                                              std::to_string(std::popcount(size)) +
                                              " frontier hashes, not " +
                                              std::to_string(frontier.size()));
  CompactTree t;
  t.frontier_ = std::move(frontier);
  for (int bit = 63; bit >= 0; --bit)
    if (size & (std::uint64_t{1} << bit)) t.sizes_.push_back(std::uint64_t{1} << bit);
  t.size_ = size;
  return t;
}

void CompactTree::append(const Hash& leaf) {
  frontier_.push_back(leaf);
  sizes_.push_back(1);
  ++size_;
  while (sizes_.size() >= 2 && sizes_[sizes_.size() - 1] == sizes_[sizes_.size() - 2]) {
    Hash merged = node_hash(frontier_[frontier_.size() - 2], frontier_.back());
    frontier_.pop_back();
    frontier_.back() = merged;
    sizes_.pop_back();
    sizes_.back() *= 2;
  }
}

Hash CompactTree::root() const {
  if (frontier_.empty()) return sha256("");
  Hash r = frontier_.back();
  for (std::size_t i = frontier_.size() - 1; i-- > 0;) r = node_hash(frontier_[i], r);
  return r;
}

std::vector<Hash> inclusion_proof(const std::vector<Hash>& leaves, std::size_t index,
                                  std::size_t size) {
  return inclusion_of(view_of(leaves), index, size);
}

bool verify_inclusion(std::size_t index, std::size_t size, const Hash& leaf,
                      const std::vector<Hash>& proof, const Hash& root) {
  // RFC 9162 §2.1.3.2
  if (index >= size) return false;
  std::size_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::vector<Hash> consistency_proof(const std::vector<Hash>& leaves, std::size_t old_size,
                                    std::size_t new_size) {
  return consistency_of(view_of(leaves), old_size, new_size);
}

bool verify_consistency(std::size_t old_size, std::size_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof) {
  // RFC 9162 §2.1.4.2
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (old_size == 0) return proof.empty();
  if (proof.empty()) return false;
  std::vector<Hash> p = proof;
  if (std::has_single_bit(old_size)) p.insert(p.begin(), old_root);
  if (p.empty()) return false;
  std::size_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = p[0], sr = p[0];
  for (std::size_t i = 1; i < p.size(); ++i) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(p[i], fr);
      sr = node_hash(p[i], sr);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_hash(sr, p[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

}  // namespace warden::audit
