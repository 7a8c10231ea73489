#include "agent/hash_cache.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace ringside {

namespace {

std::string to_hex(const unsigned char* d, unsigned n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(n) * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 0xF];
  }
  return out;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::optional<std::string> hash_fd(int fd) {
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
  std::vector<unsigned char> buf(1 << 16);
  off_t off = 0;
  while (true) {
    const ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    off += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return std::nullopt;
  return to_hex(md, len);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}

std::optional<std::string> HashCache::lookup(const FileIdentity& id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second->second;
}

std::optional<std::string> HashCache::sha256_of_path(std::string_view path,
                                                     const FileIdentity* known) {
  if (known != nullptr) {
    if (auto h = lookup(*known)) return h;
  }
  const std::string p(path);
  const int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  auto h = sha256_of_fd(fd);
  close(fd);
  return h;
}

std::optional<std::string> HashCache::sha256_of_fd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  const Key key = FileIdentity::of(st);
  if (auto h = lookup(key)) return h;
  misses_.fetch_add(1, std::memory_order_relaxed);
  if (st.st_size > max_bytes_.load()) {
    too_large_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  auto h = hash_fd(fd);
  if (!h) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  // A file modified while it was read must not be cached under its old identity.
  struct stat after {};
  if (fstat(fd, &after) != 0 || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != st.st_mtim.tv_nsec || after.st_size != st.st_size) {
    return h;
  }
  std::lock_guard lock(mu_);
  if (index_.find(key) == index_.end()) {
    lru_.emplace_front(key, *h);
    index_[key] = lru_.begin();
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return h;
}

HashCache::Stats HashCache::stats() const {
  return {hits_.load(), misses_.load(), too_large_.load(), errors_.load()};
}

}  // namespace ringside
