// PLACEHOLDER while the real sensor is written; replaced before anything lands.
#include "sensors/kernel/nfqueue.hpp"

namespace ringside {

struct NfqueueSensor::Impl {};
NfqueueSensor::NfqueueSensor(const FlowOwners*) {}
NfqueueSensor::~NfqueueSensor() = default;
Result<void> NfqueueSensor::start(SensorContext&) { return Error{"nfqueue: not built yet"}; }
Result<void> NfqueueSensor::apply_policy(const policy::Policy&) { return ok(); }
void NfqueueSensor::stop() {}
SensorStats NfqueueSensor::stats() const { return {}; }

}  // namespace ringside
