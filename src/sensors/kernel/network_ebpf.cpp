// PLACEHOLDER while the real sensor is written; replaced before anything lands.
#include "sensors/kernel/network_ebpf.hpp"

namespace ringside {

struct NetworkEbpfSensor::Impl {};
NetworkEbpfSensor::NetworkEbpfSensor() = default;
NetworkEbpfSensor::~NetworkEbpfSensor() = default;
Result<void> NetworkEbpfSensor::start(SensorContext&) {
  return Error{"network_ebpf: not built yet"};
}
Result<void> NetworkEbpfSensor::apply_policy(const policy::Policy&) { return ok(); }
void NetworkEbpfSensor::stop() {}
SensorStats NetworkEbpfSensor::stats() const { return {}; }
std::optional<FlowOwner> NetworkEbpfSensor::owner(const Flow&) const { return std::nullopt; }

}  // namespace ringside
