/*
 * dump.h - protobuf-c messages as JSON, and `gridstream dump FILE...`: decode replay output files
 * (or input files) to JSON lines for people and scripts.
 */
#ifndef GS_DUMP_H
#define GS_DUMP_H

#include <stdio.h>

#include "gs.h"

/*
 * Writes `msg` as one JSON object: fields by name, enums by name, rates that are NaN (not set) as
 * null, 64-bit integers as numbers.
 */
void gs_json_message(FILE *out, const ProtobufCMessage *msg);

/* Writes n bytes as a JSON string; bytes that are not valid UTF-8 become U+FFFD. */
void gs_json_bytes(FILE *out, const void *data, size_t n);

/*
 * The message type of a topic's values: `name` is the topic (within = false) or a text containing
 * it, such as a file path (within = true). NULL for the DLQ and unknown topics.
 */
const ProtobufCMessageDescriptor *gs_topic_descriptor(const char *name, bool within);

/* Entry point of `gridstream dump`; returns the exit code. */
int gs_dump_main(int argc, char **argv);

#endif
