/*
 * fuzz_reports.c - fuzz target: a record of topic city.reports, decoded and validated
 * (validate_check.c).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return gs_fuzz_validate(GS_SRC_REPORTS, data, size);
}
