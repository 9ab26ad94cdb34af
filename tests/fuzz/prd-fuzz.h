/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

/*
 * What every fuzz target defines. With clang the targets link libFuzzer
 * (-fsanitize=fuzzer); with any other compiler they link fuzz-replay.c, which
 * runs each file of the corpus once (the suite's regression run).
 */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
