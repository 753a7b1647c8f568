/*
 * changelog.h - the records of the state changelog topics and the rule that reads them back.
 *
 * Every commit of a task (or rollup) writes its changed state entries to its changelog partition,
 * then one marker record, inside the thread's transaction:
 *
 *   entry   key [ns u8][state key]   value: the state value, or null (a delete)
 *   marker  key [0xff]"commit"        value: [seq be64][nonce be64][n u8][n x position be64]
 *
 * and every record carries the header "gs.txn" = [seq be64][nonce be64]: seq counts the unit's
 * commits (the first is 1), nonce is random per producer incarnation. The marker's positions are
 * the input offsets the state reflects, so that state and input position are one unit: restore
 * gives both, and the engine resumes exactly where the state says.
 *
 * A real Kafka hides aborted transactions from read_committed readers. The embedded cluster does
 * not (it writes no transaction markers), and compaction removes old markers; the read-back rule
 * copes with both. Records are grouped by their header; a group is
 *   - dropped when the next group has the same or a lower seq (an attempt that was aborted and
 *     then redone from the previous commit), or when it is the last group and has no marker
 *     (a commit cut short);
 *   - applied otherwise: when followed by a higher seq (compaction may have removed its marker)
 *     or when it is complete (ends with its marker).
 * Entries of a group are buffered until the group's fate is known.
 *
 * Not thread-safe; one reader per restore.
 */
#ifndef GS_CHANGELOG_H
#define GS_CHANGELOG_H

#include "gs.h"
#include "statedb.h"
#include "store.h"

#define GS_CLOG_HEADER "gs.txn"
#define GS_CLOG_HEADER_LEN 16
#define GS_CLOG_MARKER_KEY                                                                         \
    "\xff"                                                                                         \
    "commit"
#define GS_CLOG_MARKER_KEY_LEN 7
#define GS_CLOG_MARKER_MAX (17 + 8 * GS_CHECKPOINT_POSITIONS)

/* Changelog key of a state entry: [ns][key]. `out` holds klen + 1 bytes. */
size_t gs_clog_key(uint8_t *out, gs_ns_t ns, const void *key, size_t klen);

/* The "gs.txn" header value. */
void gs_clog_header(uint8_t out[GS_CLOG_HEADER_LEN], int64_t seq, uint64_t nonce);

/* Marker value; returns its length (<= GS_CLOG_MARKER_MAX). npos <= GS_CHECKPOINT_POSITIONS. */
size_t gs_clog_marker(uint8_t out[GS_CLOG_MARKER_MAX], int64_t seq, uint64_t nonce,
                      const int64_t *positions, int npos);

typedef struct gs_clog_reader gs_clog_reader_t;

/*
 * A reader that applies complete groups to `out` (entries for state id `dbid`), starting from the
 * local checkpoint `start` (its seq and positions stand until a group replaces them).
 */
gs_clog_reader_t *gs_clog_reader_new(gs_statedb_batch_t *out, uint32_t dbid,
                                     const gs_checkpoint_t *start);
void gs_clog_reader_destroy(gs_clog_reader_t *r); /* NULL is a no-op */

/*
 * One changelog record at `offset`: key, value (NULL for a delete) and the "gs.txn" header value
 * (NULL if absent: the record is skipped and counted). Returns GS_ERR_NOMEM on allocation failure.
 */
gs_err_t gs_clog_reader_add(gs_clog_reader_t *r, int64_t offset, const void *key, size_t klen,
                            const void *val, size_t vlen, const void *hdr, size_t hlen);

/*
 * The checkpoint matching what has been applied to `out` so far (offset after the last applied
 * record, seq and positions of the last applied group). Call gs_clog_reader_end() first at the end
 * of the log.
 */
const gs_checkpoint_t *gs_clog_reader_checkpoint(const gs_clog_reader_t *r);

/*
 * Groups applied from now on go to `out` instead (restore hands full batches to a writer and goes
 * on in another). The checkpoint keeps describing everything applied so far, in every batch.
 */
void gs_clog_reader_set_out(gs_clog_reader_t *r, gs_statedb_batch_t *out);

/*
 * Drops every group whose sequence is above `max_seq`. For a writer that knows what it committed
 * (a rewind after an abort): without transaction markers (the embedded cluster) the aborted
 * attempt would otherwise be read back as the last, complete group.
 */
void gs_clog_reader_limit(gs_clog_reader_t *r, int64_t max_seq);

/* End of the log: the trailing group is applied only if it is complete. */
void gs_clog_reader_end(gs_clog_reader_t *r);

/* Records read, entries applied, records dropped (aborted or cut-short groups, no header). */
void gs_clog_reader_counts(const gs_clog_reader_t *r, uint64_t *read, uint64_t *applied,
                           uint64_t *dropped);

#endif
