/* A shared library that does nothing: exec_storm preloads it into every program its workload
 * starts to measure what loading any LD_PRELOAD library costs (mapping it, relocating, one
 * more object in every symbol lookup) apart from what the interposer does. */
int ringside_bench_empty_preload;
