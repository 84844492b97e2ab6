// Force-included when building faiss-node 0.5.1 against FAISS < 1.7.4 (Debian 12 ships 1.7.3).
// faiss-node uses the 1.7.4 namespace-level name faiss::idx_t; 1.7.3 only has faiss::Index::idx_t.
// Re-declaring the same alias is legal, so this is harmless against 1.7.4+ too.
#include <cstdint>
namespace faiss { using idx_t = int64_t; }
