/* main.c: groupvault, the operator CLI for groupvaultd. Only the entry
 * point: everything else is in cli.c so the unit tests can link it. */
#include "cli.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
