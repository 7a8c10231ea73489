#include "agent/loss_ledger.hpp"

#include <algorithm>

namespace ringside {

void LossLedger::observe(const Event& ev) {
  if (ev.type() != EventType::kRingsideLost) return;
  const auto channel = ev.get_str(Field::kRingsideLostChannel);
  const auto total = ev.get_int(Field::kRingsideLostTotal);
  if (!channel || !total || *total < 0) return;
  const auto accuracy = ev.get_str(Field::kRingsideLostAccuracy);
  std::lock_guard lock(mu_);
  auto it = channels_.find(*channel);
  if (it == channels_.end()) {
    it = channels_.emplace(std::string(*channel), Entry{std::string(*channel), 0, ""}).first;
  }
  // Reports of one channel may reach the agent out of order; totals only grow.
  it->second.total = std::max(it->second.total, static_cast<uint64_t>(*total));
  if (accuracy) it->second.accuracy = std::string(*accuracy);
}

std::vector<LossLedger::Entry> LossLedger::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  out.reserve(channels_.size());
  for (const auto& [name, e] : channels_) out.push_back(e);
  return out;
}

}  // namespace ringside
