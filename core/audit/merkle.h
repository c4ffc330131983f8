// The RFC 6962 Merkle tree: leaf hash SHA-256(0x00 || data), node hash
// SHA-256(0x01 || left || right), split at the largest power of two below n.
// Inclusion and consistency proofs as in RFC 9162 §2.1.3 and §2.1.4.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"  // to_base64, from_base64

namespace warden::audit {

using Hash = std::array<unsigned char, 32>;

Hash sha256(std::string_view data);
Hash leaf_hash(std::string_view data);
Hash node_hash(const Hash& left, const Hash& right);
std::string to_hex(const Hash& h);

// The root of the first `size` leaves (size <= leaves.size()).
Hash tree_root(const std::vector<Hash>& leaves, std::size_t size);

// The leaves of a tree whose first `base` leaves were deleted under a
// retention anchor: the roots of the perfect subtrees that covered them
// (`frontier`, largest first, one per set bit of base) stand in for them. Any
// root, inclusion proof or consistency proof that needs no node inside those
// subtrees can still be computed; one that does throws Error(kInvalidInput).
struct PrunedLeaves {
  std::uint64_t base = 0;
  std::vector<Hash> frontier;
  std::vector<Hash> leaves;  // leaves[i] is leaf base + i
  std::uint64_t size() const { return base + leaves.size(); }
};

Hash tree_root(const PrunedLeaves& tree, std::uint64_t size);
std::vector<Hash> inclusion_proof(const PrunedLeaves& tree, std::uint64_t index,
                                  std::uint64_t size);
std::vector<Hash> consistency_proof(const PrunedLeaves& tree, std::uint64_t old_size,
                                    std::uint64_t new_size);

// Appends leaves and gives the root at any time in O(log n) (the frontier of
// perfect subtrees).
class CompactTree {
 public:
  // The tree of `size` leaves given by its frontier (largest subtree first).
  // Throws Error(kInvalidInput) when the frontier does not fit the size.
  static CompactTree from_frontier(std::uint64_t size, std::vector<Hash> frontier);
  void append(const Hash& leaf);
  const std::vector<Hash>& frontier() const { return frontier_; }
  Hash root() const;
  std::uint64_t size() const { return size_; }

 private:
  std::vector<Hash> frontier_;  // perfect subtree roots, largest first
  std::vector<std::uint64_t> sizes_;
  std::uint64_t size_ = 0;
};

std::vector<Hash> inclusion_proof(const std::vector<Hash>& leaves, std::size_t index,
                                  std::size_t size);
bool verify_inclusion(std::size_t index, std::size_t size, const Hash& leaf,
                      const std::vector<Hash>& proof, const Hash& root);
std::vector<Hash> consistency_proof(const std::vector<Hash>& leaves, std::size_t old_size,
                                    std::size_t new_size);
bool verify_consistency(std::size_t old_size, std::size_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof);

}  // namespace warden::audit
