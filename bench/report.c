/*
 * report.c - `gridstream bench report`: runs every mode that exists, then writes DIR/results.json
 * (every figure, and the planner's inputs), DIR/RESULTS.md (the machine, the commit, every mode's
 * table with its reference and ratio, the plans of the presets) and DIR/threads.svg (throughput
 * against threads, drawn by gnuplot when it is installed), DIR/latency.svg (the distribution of
 * produced-to-visible latency at each load level, gnuplot too), and prints the tables and the
 * plans.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"

static void git_commit(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *p = popen("git rev-parse --short HEAD 2>/dev/null && git status --porcelain "
                    "--untracked-files=no -- operators engine bench 2>/dev/null | head -1",
                    "r");
    if (!p) return;
    char line[128];
    if (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(buf, len, "%s", line);
        if (fgets(line, sizeof(line), p))
            snprintf(buf + strlen(buf), len - strlen(buf), " (with uncommitted changes)");
    }
    pclose(p);
}

/* Draws DIR/threads.svg from the pipeline rows; false if gnuplot is not there or failed. */
static bool plot_threads(const char *dir, const gs_bench_pipeline_res_t *pr)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
    char path[4096];
    snprintf(path, sizeof(path), "%s/threads.dat", dir);
    FILE *d = fopen(path, "w");
    if (!d) return false;
    fprintf(d, "# threads gridstream_records_per_s decode_only_records_per_s\n");
    for (int k = 0; k < pr->nrows; k++)
        fprintf(d, "%d %.0f %.0f\n", pr->rows[k].threads, pr->rows[k].gs_rps, pr->rows[k].ref_rps);
    fclose(d);
    FILE *g = popen("gnuplot", "w");
    if (!g) return false;
    fprintf(g,
            "set terminal svg size 720,420 dynamic font 'sans,12'\n"
            "set output '%s/threads.svg'\n"
            "set title 'bench pipeline: records/s against threads (%d cores)'\n"
            "set xlabel 'threads'\nset ylabel 'records/s'\nset logscale y\nset grid\n"
            "set key top left\nset xtics 1\n"
            "plot '%s' using 1:2 with linespoints lw 2 title 'gridstream, all operators', "
            "'%s' using 1:3 with linespoints lw 2 title 'protobuf-c decode only (reference)'\n",
            dir, pr->cores, path, path);
    int rc = pclose(g);
    remove(path);
    return rc == 0;
}

/* Draws DIR/latency.svg, the latency CDF of every level; false if gnuplot is not there or failed.
 */
static bool plot_latency(const char *dir, const gs_bench_latency_res_t *lr)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
    char path[4096];
    snprintf(path, sizeof(path), "%s/latency.dat", dir);
    FILE *d = fopen(path, "w");
    if (!d) return false;
    int nplot = 0;
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++) {
        const gs_bench_latency_level_t *w = &lr->levels[k];
        if (w->p50 < 0) continue;
        fprintf(d, "# %d %% load (%.0f records/s): latency_ms fraction\n", w->pct, w->sent_rps);
        for (int q = 0; q < GS_BENCH_LAT_CDF; q++)
            fprintf(d, "%.3f %.4f\n", w->cdf_ms[q] > 0.01 ? w->cdf_ms[q] : 0.01,
                    gs_bench_lat_cdf_q[q]);
        fprintf(d, "\n\n");
        nplot++;
    }
    fclose(d);
    if (!nplot) {
        remove(path);
        return false;
    }
    FILE *g = popen("gnuplot", "w");
    if (!g) return false;
    fprintf(g,
            "set terminal svg size 720,420 dynamic font 'sans,12'\n"
            "set output '%s/latency.svg'\n"
            "set title 'bench latency: record produced to its output visible (read_committed)'\n"
            "set xlabel 'latency, ms (log scale)'\nset ylabel 'fraction of outputs'\n"
            "set termoption noenhanced\nset logscale x\nset grid\nset key top left\n"
            "set yrange [0:1]\nset arrow from %.0f, graph 0 to %.0f, graph 1 nohead dt 2\n"
            "set label 'target p99: commit.interval.ms + 20 = %.0f ms' at %.0f, graph 0.5 "
            "offset 1,0\nplot ",
            dir, lr->target_ms, lr->target_ms, lr->target_ms, lr->target_ms);
    int i = 0;
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++) {
        const gs_bench_latency_level_t *w = &lr->levels[k];
        if (w->p50 < 0) continue;
        fprintf(g, "%s'%s' index %d using 1:2 with lines lw 2 title '%d %% load (%.0f rec/s)'",
                i ? ", " : "", path, i, w->pct, w->sent_rps);
        i++;
    }
    fprintf(g, "\n");
    int rc = pclose(g);
    remove(path);
    return rc == 0;
}

static void ms_cell(FILE *f, double v)
{
    if (v >= 0)
        fprintf(f, " %.1f |", v);
    else
        fprintf(f, " — |");
}

static void write_latency_md(FILE *f, const gs_bench_latency_res_t *lr, bool plotted)
{
    fprintf(f,
            "## latency: record produced to its output visible to a read_committed consumer\n\n");
    fprintf(f,
            "%llu records (`gridstream gen --cells %d --days %d --seed 42`, %u partitions) on the "
            "embedded cluster, exactly_once, %d stream thread(s), commit.interval.ms %lld (the "
            "engine's default). Capacity in the same run: a burst of %llu records produced "
            "before the engine starts, first record applied to the burst committed: **%.0f "
            "records/s**. Then "
            "the rest of the stream is offered, paced, at each load for %.1f s; latency is wall "
            "clock from a record handed to the producer to the first incident or alert (HOTSPOT, "
            "CRITICAL) that names the incident it opened, received by a read_committed consumer. "
            "Reference (k): Kafka alone, the same input records produced to visible to the same "
            "consumer (fetch.wait.max.ms 5); k500: the same with librdkafka's default "
            "fetch.wait.max.ms of 500 ms (the engine's group consumer sets 20 ms). commit: the "
            "engine's "
            "mean commit (its /metrics); commit %%: share of the time the stream thread spent "
            "committing.\n\n",
            (unsigned long long)lr->records, lr->o.cells, lr->o.days, lr->o.partitions,
            lr->o.threads, (long long)lr->commit_interval_ms, (unsigned long long)lr->burst,
            lr->capacity_rps, lr->levels[0].window_s);
    fprintf(f, "| load | records/s | outputs | p50 ms | p99 ms | p999 ms | target p99 | k p50 | "
               "k p99 | k500 p50 | k500 p99 | commit ms | commit %% | max lag |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < GS_BENCH_LAT_LEVELS; k++) {
        const gs_bench_latency_level_t *w = &lr->levels[k];
        fprintf(f, "| %d %% | %.0f | %llu |", w->pct, w->sent_rps, (unsigned long long)w->outputs);
        ms_cell(f, w->p50);
        ms_cell(f, w->p99);
        ms_cell(f, w->p999);
        if (w->pct == 50)
            fprintf(f, " ≤ %.0f ms |", lr->target_ms);
        else
            fprintf(f, " — |");
        ms_cell(f, w->ref_p50);
        ms_cell(f, w->ref_p99);
        ms_cell(f, w->ref2_p50);
        ms_cell(f, w->ref2_p99);
        ms_cell(f, w->commit_mean_ms);
        ms_cell(f, w->commit_share >= 0 ? 100 * w->commit_share : -1);
        fprintf(f, " %llu |\n", (unsigned long long)w->max_lag);
    }
    fprintf(f, "\n%s\n\n",
            plotted ? "![latency CDF per load level](latency.svg)"
                    : "(latency.svg not drawn: gnuplot is not installed, or no level had an "
                      "output)");
    fprintf(f, "p99 ≤ commit.interval.ms + 20 ms at 50 %% load: **%s**. %s.\n\n",
            lr->met ? "met" : "not met", lr->limit);
}

static void write_results_md(FILE *f, const char *machine, const char *commit, const char *date,
                             const gs_bench_pipeline_res_t *pr, const gs_bench_state_res_t *sr,
                             const gs_bench_e2e_res_t *er, const gs_bench_restore_res_t *rr,
                             const gs_bench_latency_res_t *lr, const gs_bench_figures_t *fg,
                             bool plotted, bool lat_plotted, double seconds)
{
    fprintf(f, "# Benchmark results\n\n"
               "Written by `gridstream bench report` (`bash bench/run.sh`). The figures are from "
               "one machine and one run; every mode measures gridstream and a reference in the "
               "same run on the same records, and the ratio is the figure to compare across "
               "machines.\n\n");
    fprintf(f,
            "- machine: %s\n- commit: %s\n- date: %s\n- build: release preset (RelWithDebInfo, "
            "-O2, jemalloc)\n- all modes: %.0f s\n\n",
            machine, commit, date, seconds);

    fprintf(f, "## pipeline: every operator vs. protobuf-c decode-only\n\n");
    fprintf(
        f,
        "%llu records (`gridstream gen --cells %d --days %d --partitions %u --seed 42`, held in "
        "memory), best of %d runs. Thread i drives the tasks p with p %% T = i; the reference "
        "decodes the same records with the same split.\n\n",
        (unsigned long long)pr->records, pr->o.cells, pr->o.days, pr->o.partitions, pr->o.runs);
    fprintf(f, "| threads | gridstream rec/s | per core | reference: decode-only rec/s | ratio | "
               "target | scaling |\n|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < pr->nrows; k++) {
        const gs_bench_pipeline_row_t *w = &pr->rows[k];
        int cores = w->threads < pr->cores ? w->threads : pr->cores;
        fprintf(f, "| %d | %.0f | %.0f | %.0f | %.3f | ≥ 0.33 | %.2f |\n", w->threads, w->gs_rps,
                w->gs_rps / cores, w->ref_rps, w->ratio, w->scaling);
    }
    fprintf(f, "\n%s\n\n",
            plotted ? "![records/s against threads](threads.svg)"
                    : "(threads.svg not drawn: gnuplot is not installed; `bash "
                      "deploy/install-deps.sh --bench`)");
    fprintf(f, "| heap allocations | per 1M records | target |\n|---|---|---|\n");
    if (pr->allocs_window_per_m >= 0) {
        fprintf(f,
                "| steady state: second half of each task's input (%llu calls over %llu records) "
                "| %.1f | 0 |\n",
                (unsigned long long)pr->allocs_window, (unsigned long long)pr->window_records,
                pr->allocs_window_per_m);
        fprintf(f, "| whole 1-thread run (tables growing, final flushes, rollup) | %.0f | — |\n\n",
                pr->allocs_whole_per_m);
    } else {
        fprintf(f, "| not counted: this build does not run on jemalloc | — | 0 |\n\n");
    }

    fprintf(f, "## state: memory and RocksDB bytes per open incident and per active cell\n\n");
    fprintf(f,
            "One task, two open incidents per active cell, flushed every 65 536 records; RSS from "
            "/proc/self/statm; RocksDB (state.memory.bytes %lld MiB) loaded with every persisted "
            "entry, SST bytes after close. Reference: the incident's packed gridstream.incidents "
            "record.\n\n",
            (long long)(sr->o.memory_bytes >> 20));
    fprintf(f,
            "| cells | incidents | RSS per incident | target | RSS per active cell | table "
            "bytes per incident | reference: packed incident | ratio | state RSS | RocksDB "
            "RSS | RocksDB bytes per incident |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < sr->nrows; i++) {
        const gs_bench_state_row_t *w = &sr->rows[i];
        fprintf(f,
                "| %lld | %lld | %.0f B | ≤ 256 B | %.0f B | %.0f B | %.0f B | %.2f | %.0f MiB | "
                "%.0f MiB | %.0f B |\n",
                (long long)w->cells, (long long)w->incidents, w->rss_per_incident, w->rss_per_cell,
                w->store_per_incident, w->packed_incident,
                w->packed_incident > 0 ? w->rss_per_incident / w->packed_incident : 0,
                (double)w->rss_state / 1048576.0, (double)w->rss_rocksdb / 1048576.0,
                w->rocksdb_per_incident);
    }
    fprintf(f,
            "\nRSS bounded by state.memory.bytes whatever the state size: **not met**. RocksDB's "
            "share stays within the bound, but the hot table keeps every incident (there is no "
            "eviction of cold entries yet), so the state's RSS grows with it.\n\n");

    fprintf(f, "## e2e: gridstream run through Kafka vs. kcat consuming the same topics\n\n");
    fprintf(f,
            "%llu records (`gridstream gen --cells %d --days %d --seed 42`) produced to the four "
            "input topics (%u partitions) of the embedded cluster (librdkafka's mock cluster, 3 "
            "brokers, in the same process). Reference: kcat, one consumer per input topic in "
            "parallel, to the end of the topics, output discarded, fetch.wait.max.ms 20 as the "
            "engine's consumer, timed from the first record received to the last process ended "
            "(best of 5): **%.0f records/s**. gridstream: `run --until-end` with its own "
            "application.id and an empty state directory per row, measured from the first input "
            "record applied to the run finished (every task and rollup ended, outputs and state "
            "committed); the consumer group join before it is listed apart.\n\n",
            (unsigned long long)er->records, er->o.cells, er->o.days, er->o.partitions,
            er->ref_rps);
    fprintf(f, "| guarantee | threads | gridstream rec/s | ratio to kcat | target | group join s | "
               "measured s |\n|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < er->nrows; k++) {
        const gs_bench_e2e_row_t *w = &er->rows[k];
        fprintf(f, "| %s | %d | %.0f | %.3f | %s | %.2f | %.2f |\n",
                w->eos ? "exactly_once" : "at_least_once", w->threads, w->gs_rps, w->ratio,
                w->eos ? "≥ 0.7" : "≥ 0.85", w->join_s, w->seconds);
    }
    fprintf(f, "\n## restore: changelog restore vs. RocksDB writes with the WAL off\n\n");
    fprintf(f,
            "Task 0's state changelog holds %lld entries of %zu value bytes (%llu records: "
            "groups of 1000 entries each closed by its commit marker, zstd-compressed so that "
            "the embedded cluster's 5 MB per partition holds them); `run --until-end` over empty "
            "inputs restores the task and ends. Restore rate: assignment to every entry in "
            "RocksDB (%.2f s). Ready (run start to the task loaded and running, group join "
            "included): %.2f s, of which group join %.2f s.\n\n",
            (long long)rr->o.entries, rr->o.value_bytes, (unsigned long long)rr->changelog_records,
            rr->restore_seconds, rr->ready_seconds, rr->join_seconds);
    fprintf(f, "| gridstream restore entries/s | reference | reference entries/s | ratio | target "
               "|\n|---|---|---|---|---|\n");
    if (rr->db_bench_rps > 0)
        fprintf(f,
                "| %.0f | db_bench fillseq, WAL off, same count and value size | %.0f | %.3f | "
                "≥ 0.5 |\n",
                rr->gs_rps, rr->db_bench_rps, rr->gs_rps / rr->db_bench_rps);
    fprintf(f,
            "| %.0f | engine statedb batch writes (50 000 a batch), WAL off | %.0f | %.3f | %s |\n",
            rr->gs_rps, rr->statedb_rps, rr->gs_rps / rr->statedb_rps,
            rr->db_bench_rps > 0 ? "—" : "≥ 0.5");
    fprintf(f, "\n");
    write_latency_md(f, lr, lat_plotted);

    fprintf(f, "## Capacity planner\n\n`gridstream bench plan --preset NAME` or `--cells C "
               "--events-per-second E --retention-days D` prints the same from "
               "[results.json](results.json).\n");
    gs_bench_plan_presets(fg, f, true);
    fprintf(f, "\nWhat the figures mean and where the time goes: [bench/README.md](README.md).\n");
}

int gs_bench_report_main(int argc, char **argv)
{
    const char *dir = "bench";
    char commit[128] = "";
    bool quick = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--commit") == 0 && i + 1 < argc)
            snprintf(commit, sizeof(commit), "%s", argv[++i]);
        else {
            fprintf(stderr,
                    "usage: gridstream bench report [--out DIR] [--quick] [--commit REV]\n");
            return 2;
        }
    }
    if (!commit[0]) git_commit(commit, sizeof(commit));
    char machine[512], date[32], err[1024];
    gs_bench_machine(machine, sizeof(machine));
    time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
    mkdir(dir, 0777);
    double t0 = gs_bench_now();

    gs_bench_pipeline_opts_t po;
    gs_bench_pipeline_defaults(&po);
    gs_bench_state_opts_t so;
    gs_bench_state_defaults(&so);
    gs_bench_e2e_opts_t eo;
    gs_bench_e2e_defaults(&eo);
    gs_bench_restore_opts_t ro;
    gs_bench_restore_defaults(&ro);
    gs_bench_latency_opts_t lo;
    gs_bench_latency_defaults(&lo);
    if (quick) {
        eo.cells = 10;
        eo.days = 3;
        eo.nthreads = 1;
        ro.entries = 5000;
        po.cells = 20;
        po.days = 3;
        po.runs = 1;
        so.cells[0] = 1000;
        so.cells[1] = 2000;
        so.nsizes = 2;
        gs_bench_latency_quick(&lo);
    }
    po.progress = so.progress = eo.progress = ro.progress = lo.progress = stderr;
    static gs_bench_pipeline_res_t pr;
    static gs_bench_state_res_t sr;
    static gs_bench_e2e_res_t er;
    static gs_bench_restore_res_t rr;
    static gs_bench_latency_res_t lr;
    if (gs_bench_pipeline(&po, &pr, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench report: pipeline: %s\n", err);
        return 1;
    }
    gs_bench_pipeline_text(&pr, stdout);
    if (gs_bench_state(&so, &sr, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench report: state: %s\n", err);
        return 1;
    }
    printf("\n");
    gs_bench_state_text(&sr, stdout);
    printf("\n");
    if (gs_bench_e2e(&eo, &er, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench report: e2e: %s\n", err);
        return 1;
    }
    gs_bench_e2e_text(&er, stdout);
    printf("\n");
    if (gs_bench_restore(&ro, &rr, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench report: restore: %s\n", err);
        return 1;
    }
    gs_bench_restore_text(&rr, stdout);
    printf("\n");
    if (gs_bench_latency(&lo, &lr, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gridstream bench report: latency: %s\n", err);
        return 1;
    }
    gs_bench_latency_text(&lr, stdout);
    double seconds = gs_bench_now() - t0;

    gs_bench_figures_t fg = {0};
    for (int k = 0; k < pr.nrows; k++) {
        if (pr.rows[k].threads == 1) fg.per_core_rps = pr.rows[k].gs_rps;
        if (pr.rows[k].threads <= pr.cores && pr.rows[k].scaling > 0)
            fg.scaling = pr.rows[k].scaling; /* at the most threads that have a core each */
    }
    for (int k = 0; k < er.nrows; k++) /* through Kafka: what is left of the in-process rate */
        if (er.rows[k].eos && er.rows[k].threads == 1 && fg.per_core_rps > 0)
            fg.kafka_factor = er.rows[k].gs_rps / fg.per_core_rps;
    const gs_bench_state_row_t *big = &sr.rows[sr.nrows - 1];
    fg.rss_per_incident = big->rss_per_incident;
    fg.rss_per_cell = big->rss_per_cell;
    fg.rocksdb_per_incident = big->rocksdb_per_incident;
    fg.memory_bytes = (double)sr.o.memory_bytes;
    snprintf(fg.source, sizeof(fg.source), "bench report of %s, commit %s, %s", date, commit,
             machine);

    char path[4096];
    snprintf(path, sizeof(path), "%s/results.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "{\"machine\":");
    gs_bench_json_str(f, machine);
    fprintf(f, ",\"commit\":");
    gs_bench_json_str(f, commit);
    fprintf(f, ",\"date\":\"%s\",\"seconds\":%.1f,\"quick\":%s,\n\"pipeline\":", date, seconds,
            quick ? "true" : "false");
    gs_bench_pipeline_json(&pr, f);
    fprintf(f, ",\"state\":");
    gs_bench_state_json(&sr, f);
    fprintf(f, ",\"e2e\":");
    gs_bench_e2e_json(&er, f);
    fprintf(f, ",\"restore\":");
    gs_bench_restore_json(&rr, f);
    fprintf(f, ",\"latency\":");
    gs_bench_latency_json(&lr, f);
    fprintf(f, ",\"planner_inputs\":");
    gs_bench_figures_json(&fg, f);
    fprintf(f, "}\n");
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    bool plotted = plot_threads(dir, &pr);
    bool lat_plotted = plot_latency(dir, &lr);
    snprintf(path, sizeof(path), "%s/RESULTS.md", dir);
    if (!(f = fopen(path, "w"))) {
        perror(path);
        return 1;
    }
    write_results_md(f, machine, commit, date, &pr, &sr, &er, &rr, &lr, &fg, plotted, lat_plotted,
                     seconds);
    fclose(f);
    printf("\ncapacity plans (from the figures above):\n");
    gs_bench_plan_presets(&fg, stdout, false);
    printf("\nbench report: wrote %s/RESULTS.md, %s/results.json%s%s%s (%.0f s)\n", dir, dir,
           plotted ? ", threads.svg" : "", lat_plotted ? ", latency.svg" : "",
           plotted || lat_plotted ? "" : " (no plots: gnuplot not installed)", seconds);
    return 0;
}
