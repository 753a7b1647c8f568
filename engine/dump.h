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

/* Entry point of `gridstream dump`; returns the exit code. */
int gs_dump_main(int argc, char **argv);

#endif
