/* libFuzzer harness: the CLI option parser (cli_parse). The first input byte
 * picks the option groups (one subcommand's worth); the rest is split on NUL
 * bytes into argv words, as a shell would hand them over. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  static const unsigned group_sets[] = {
      OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_OUTPUT,                /* estimate */
      OPTS_MODEL | OPTS_TP_ONE | OPTS_RUN | OPTS_OUTPUT | OPTS_LAYERS,   /* layers */
      OPTS_MODEL | OPTS_TP_LIST | OPTS_RUN | OPTS_REPORT,                /* report */
      OPTS_VALIDATE | OPTS_OUTPUT,                                       /* validate */
  };
  static const char *const names[] = {"estimate", "layers", "report", "validate"};
  int which = data[0] % 4;
  /* The words live in one NUL-terminated copy of the input. */
  char *buf = malloc(size);
  if (!buf) return 0;
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  char *argv[MAX_WORDS + 2];
  int argc = 0;
  argv[argc++] = (char *)names[which];
  for (size_t i = 0; i < size - 1 && argc < MAX_WORDS;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  argv[argc] = NULL;
  cli_args args;
  cli_args_init(&args);
  tps_error err;
  tps_error_clear(&err);
  tps_status st = cli_parse(argc, argv, 1, group_sets[which], &args, &err);
  if (st == TPS_OK) {
    assert(args.n_tp >= 0 && args.n_tp <= CLI_MAX_TP);
    for (int i = 0; i < args.n_tp; i++) assert(args.tp_list[i] >= 1);
  } else {
    assert(err.msg[0] != '\0');
  }
  free(buf);
  return 0;
}
