/*
 * fuzz_video.c - fuzz target: a record of topic city.video, decoded and validated
 * (validate_check.c).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return gs_fuzz_validate(GS_SRC_VIDEO, data, size);
}
