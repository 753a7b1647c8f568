/*
 * bench.h - `gridstream bench`: throughput measured against a reference in the same run, on the
 * same records, reported as a ratio (absolute numbers on a shared machine mean little).
 */
#ifndef GS_BENCH_H
#define GS_BENCH_H

/* Entry point of `gridstream bench ...`; returns the process exit code. */
int gs_bench_main(int argc, char **argv);

#endif
