/*
 * demo.h - `gridstream demo`: the README's first command. The embedded cluster, a synthetic city
 * (gen) produced to it, the engine (run, --until-end semantics) over it with a live one-screen
 * view, then each month's scorecard.
 */
#ifndef GS_DEMO_H
#define GS_DEMO_H

/* Entry point; argv starts after the command name. Returns the exit code (0, 1, 2). */
int gs_demo_main(int argc, char **argv);

#endif
