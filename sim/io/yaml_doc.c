/* Reading one YAML file into a libyaml document, safely.
 *
 * Two passes over the bytes: an event pass that stops at the first syntax
 * error, anchor, alias, second document or over-deep nesting (so that no
 * document is built for hostile input), then yaml_parser_load for the node
 * tree. Marks from libyaml are 0-based; errors carry them 1-based. */
#define _POSIX_C_SOURCE 200809L

#include "io/yaml_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_internal.h"

tps_status io_doc_fail(io_doc *d, const yaml_node_t *at, tps_status status,
                        const char *fmt, ...) {
  if (!d->err) return status;
  char msg[sizeof d->err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int line = at ? (int)at->start_mark.line + 1 : 0;
  int col = at ? (int)at->start_mark.column + 1 : 0;
  return tps_error_set(d->err, status, d->path, line, col, "%s", msg);
}

/* Error at a libyaml mark (0-based). */
static tps_status fail_at_mark(io_doc *d, yaml_mark_t mark, tps_status status,
                               const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tps_status fail_at_mark(io_doc *d, yaml_mark_t mark, tps_status status,
                               const char *fmt, ...) {
  if (!d->err) return status;
  char msg[sizeof d->err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tps_error_set(d->err, status, d->path, (int)mark.line + 1,
                       (int)mark.column + 1, "%s", msg);
}

void io_doc_hint(io_doc *d, const char *fmt, ...) {
  if (!d->err) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err->hint, sizeof d->err->hint, fmt, ap);
  va_end(ap);
}

/* The 0-based mark of byte `offset` in buf: lines end at '\n'; columns count
 * characters (UTF-8 lead bytes), as libyaml does. */
static yaml_mark_t mark_of_offset(const unsigned char *buf, size_t len,
                                  size_t offset) {
  yaml_mark_t m = {offset, 0, 0};
  if (offset > len) offset = len;
  for (size_t i = 0; i < offset; i++) {
    if (buf[i] == '\n') {
      m.line++;
      m.column = 0;
    } else if ((buf[i] & 0xC0) != 0x80) {
      m.column++;
    }
  }
  return m;
}

/* Turns a libyaml parser error into a tps_error. */
static tps_status parser_fail(io_doc *d, const yaml_parser_t *p,
                              const unsigned char *buf, size_t len) {
  const char *problem = p->problem ? p->problem : "unknown error";
  switch (p->error) {
    case YAML_MEMORY_ERROR:
      return io_doc_fail(d, NULL, TPS_ENOMEM, "out of memory while reading YAML");
    case YAML_READER_ERROR: {
      yaml_mark_t m = mark_of_offset(buf, len, p->problem_offset);
      if (p->problem_value >= 0)
        fail_at_mark(d, m, TPS_ESYNTAX, "invalid YAML: %s (byte 0x%02x)", problem,
                     (unsigned)p->problem_value & 0xFFu);
      else
        fail_at_mark(d, m, TPS_ESYNTAX, "invalid YAML: %s", problem);
      io_doc_hint(d, "is this a binary file? expected UTF-8 YAML text");
      return TPS_ESYNTAX;
    }
    default:
      fail_at_mark(d, p->problem_mark, TPS_ESYNTAX, "invalid YAML: %s", problem);
      if (p->context)
        io_doc_hint(d, "%s at line %d, column %d", p->context,
                     (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
      return TPS_ESYNTAX;
  }
}

/* Anchors on nodes: collections and scalars carry one in their events. */
static const yaml_char_t *event_anchor(const yaml_event_t *ev) {
  switch (ev->type) {
    case YAML_SCALAR_EVENT: return ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT: return ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT: return ev->data.mapping_start.anchor;
    default: return NULL;
  }
}

/* The event pass: syntax, one document, no anchors or aliases, bounded
 * depth. */
static tps_status check_events(io_doc *d, const unsigned char *buf,
                               size_t len) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return io_doc_fail(d, NULL, TPS_ENOMEM, "out of memory while reading YAML");
  yaml_parser_set_input_string(&p, buf, len);
  tps_status st = TPS_OK;
  int depth = 0, docs = 0;
  bool done = false;
  while (!done && st == TPS_OK) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      st = parser_fail(d, &p, buf, len);
      break;
    }
    const yaml_char_t *anchor = event_anchor(&ev);
    if (anchor) {
      st = fail_at_mark(d, ev.start_mark, TPS_ESYNTAX,
                        "YAML anchors are not supported ('&%.40s')",
                        (const char *)anchor);
      io_doc_hint(d, "write the value out in full");
    }
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done = true;
        break;
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1 && st == TPS_OK) {
          st = fail_at_mark(d, ev.start_mark, TPS_ESYNTAX,
                            "file holds more than one YAML document");
          io_doc_hint(d, "remove the '---' line or split the file");
        }
        break;
      case YAML_ALIAS_EVENT:
        if (st == TPS_OK) {
          st = fail_at_mark(d, ev.start_mark, TPS_ESYNTAX,
                            "YAML aliases are not supported ('*%.40s')",
                            (const char *)ev.data.alias.anchor);
          io_doc_hint(d, "write the value out in full");
        }
        break;
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        if (++depth > IO_DEPTH_MAX && st == TPS_OK)
          st = fail_at_mark(d, ev.start_mark, TPS_ESYNTAX,
                            "nesting deeper than %d levels", IO_DEPTH_MAX);
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        depth--;
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  return st;
}

/* Rejects NUL and control characters inside scalars (possible through
 * double-quoted escapes such as "\0"); tab and newline are allowed. A JSON
 * document (json) may hold any escaped control character but NUL in its
 * values ("\r\n" in a description); its keys, which reach messages, may
 * not. */
static tps_status check_scalars(io_doc *d, bool json) {
  for (yaml_node_t *n = d->doc.nodes.start; n < d->doc.nodes.top; n++) {
    if (n->type != YAML_SCALAR_NODE) continue;
    const unsigned char *v = n->data.scalar.value;
    for (size_t i = 0; i < n->data.scalar.length; i++) {
      bool control = (v[i] < 0x20 && v[i] != '\t' && v[i] != '\n') || v[i] == 0x7F;
      if (v[i] == 0 || (control && !json))
        return io_doc_fail(d, n, TPS_ESYNTAX,
                            "text holds a control character (0x%02x)", v[i]);
    }
  }
  if (!json) return TPS_OK;
  for (yaml_node_t *n = d->doc.nodes.start; n < d->doc.nodes.top; n++) {
    if (n->type != YAML_MAPPING_NODE) continue;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
      if (!k || k->type != YAML_SCALAR_NODE) continue;
      for (size_t i = 0; i < k->data.scalar.length; i++) {
        unsigned char c = k->data.scalar.value[i];
        if (c < 0x20 || c == 0x7F)
          return io_doc_fail(d, k, TPS_ESYNTAX, "a key holds a control character (0x%02x)", c);
      }
    }
  }
  return TPS_OK;
}

static int hex4(const unsigned char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = p[i], h = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* JSON writes a character beyond U+FFFF as a UTF-16 surrogate pair of
 * escapes ("\ud83d\ude00", Python's json.dump), which YAML (libyaml)
 * refuses; it is rewritten in place, inside double-quoted strings only, as
 * the YAML escape of the same character ("\U0001f600"), two bytes shorter.
 * One pass; *len is updated. A lone surrogate is left for libyaml to refuse.
 * Columns after a rewritten pair on its line move left by 2. */
static void json_surrogates(unsigned char *buf, size_t *len) {
  size_t n = *len, w = 0;
  bool in_string = false;
  for (size_t r = 0; r < n;) {
    unsigned char c = buf[r];
    if (!in_string) {
      if (c == '"') in_string = true;
      buf[w++] = buf[r++];
      continue;
    }
    if (c == '"') {
      in_string = false;
      buf[w++] = buf[r++];
      continue;
    }
    if (c != '\\' || r + 1 >= n) {
      buf[w++] = buf[r++];
      continue;
    }
    if (buf[r + 1] == 'u' && r + 12 <= n && buf[r + 6] == '\\' && buf[r + 7] == 'u') {
      int hi = hex4(buf + r + 2), lo = hex4(buf + r + 8);
      if (hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF) {
        unsigned long cp = 0x10000UL + (((unsigned long)hi - 0xD800UL) << 10) +
                           ((unsigned long)lo - 0xDC00UL);
        char esc[11];
        snprintf(esc, sizeof esc, "\\U%08lx", cp);
        memcpy(buf + w, esc, 10);
        w += 10;
        r += 12;
        continue;
      }
    }
    buf[w++] = buf[r++]; /* the backslash and the character it escapes */
    buf[w++] = buf[r++];
  }
  buf[w] = '\0';
  *len = w;
}

/* strerror(errnum) starting in lowercase, for "cannot open file: ...". */
static void errno_text(int errnum, char *buf, size_t size) {
  snprintf(buf, size, "%s", strerror(errnum));
  if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* What a non-regular file is, for "is a named pipe (FIFO), not a regular
 * file". */
static const char *file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

tps_status io_file_read(const char *path, unsigned char **buf, size_t *len, tps_error *err) {
  char reason[128];
  *buf = NULL;
  *len = 0;
  /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of
   * waiting forever; the mode is then checked on the open file itself (no
   * race between a stat and the open). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    errno_text(errno, reason, sizeof reason);
    return tps_error_set(err, TPS_EIO, path, 0, 0, "cannot open file: %s", reason);
  }
  struct stat stt;
  if (fstat(fd, &stt) != 0) {
    errno_text(errno, reason, sizeof reason);
    close(fd);
    return tps_error_set(err, TPS_EIO, path, 0, 0, "cannot open file: %s", reason);
  }
  if (S_ISDIR(stt.st_mode)) {
    close(fd);
    return tps_error_set(err, TPS_EIO, path, 0, 0, "is a directory, not a file");
  }
  if (!S_ISREG(stt.st_mode)) {
    close(fd);
    tps_error_set(err, TPS_EIO, path, 0, 0, "is %s, not a regular file", file_kind(stt.st_mode));
    tps_error_hint(err, "tp-sim reads regular files only; save the input to a file first");
    return TPS_EIO;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    errno_text(errno, reason, sizeof reason);
    close(fd);
    return tps_error_set(err, TPS_EIO, path, 0, 0, "cannot open file: %s", reason);
  }
  size_t cap = 4096, n = 0;
  unsigned char *b = malloc(cap);
  tps_status st = TPS_OK;
  while (b) {
    if (n + 1 >= cap) {
      size_t ncap = cap * 2;
      if (ncap > (size_t)IO_FILE_MAX + 2) ncap = (size_t)IO_FILE_MAX + 2;
      unsigned char *nb = realloc(b, ncap);
      if (!nb) {
        free(b);
        b = NULL;
        break;
      }
      b = nb;
      cap = ncap;
    }
    size_t got = fread(b + n, 1, cap - 1 - n, f);
    n += got;
    if (n > (size_t)IO_FILE_MAX) {
      st = tps_error_set(err, TPS_EIO, path, 0, 0, "file is larger than %ld bytes", IO_FILE_MAX);
      tps_error_hint(err, "model and hardware files are small YAML text files");
      break;
    }
    if (got == 0) {
      if (ferror(f)) {
        errno_text(errno, reason, sizeof reason);
        st = tps_error_set(err, TPS_EIO, path, 0, 0, "cannot read file: %s", reason);
      }
      break;
    }
  }
  fclose(f);
  if (!b) return tps_error_set(err, TPS_ENOMEM, path, 0, 0, "out of memory reading the file");
  if (st != TPS_OK) {
    free(b);
    return st;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return TPS_OK;
}

static tps_status doc_load(io_doc *d, const char *path, bool json, tps_error *err) {
  memset(d, 0, sizeof *d);
  d->err = err;
  tps_error_clear(err);
  if (!path || !*path)
    return io_doc_fail(d, NULL, TPS_EINVAL, "no file name given");
  if (strlen(path) >= sizeof d->path)
    return io_doc_fail(d, NULL, TPS_EINVAL, "file name is longer than %zu characters",
                        sizeof d->path - 1);
  snprintf(d->path, sizeof d->path, "%s", path);

  unsigned char *buf = NULL;
  size_t len = 0;
  tps_status st = io_file_read(d->path, &buf, &len, err);
  if (st != TPS_OK) return st;
  if (json) json_surrogates(buf, &len);

  const unsigned char *nul = memchr(buf, '\0', len);
  if (nul) {
    st = fail_at_mark(d, mark_of_offset(buf, len, (size_t)(nul - buf)),
                      TPS_ESYNTAX, "file is not text: it holds a NUL byte");
    io_doc_hint(d, "is this a binary file? expected UTF-8 YAML text");
    free(buf);
    return st;
  }
  st = check_events(d, buf, len);
  if (st == TPS_OK) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
      st = io_doc_fail(d, NULL, TPS_ENOMEM, "out of memory while reading YAML");
    } else {
      yaml_parser_set_input_string(&p, buf, len);
      if (yaml_parser_load(&p, &d->doc))
        d->loaded = true;
      else
        st = parser_fail(d, &p, buf, len);
      yaml_parser_delete(&p);
    }
  }
  free(buf);
  if (st == TPS_OK) st = check_scalars(d, json);
  if (st != TPS_OK) io_doc_free(d);
  return st;
}

tps_status io_doc_load(io_doc *d, const char *path, tps_error *err) {
  return doc_load(d, path, false, err);
}

tps_status io_doc_load_json(io_doc *d, const char *path, tps_error *err) {
  return doc_load(d, path, true, err);
}

void io_doc_free(io_doc *d) {
  if (d && d->loaded) {
    yaml_document_delete(&d->doc);
    d->loaded = false;
  }
}

yaml_node_t *io_doc_root(io_doc *d) {
  return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

int io_node_line(const yaml_node_t *n) {
  return n ? (int)n->start_mark.line + 1 : 0;
}

void io_node_desc(const yaml_node_t *n, char *buf, size_t size) {
  if (!n) {
    snprintf(buf, size, "nothing");
    return;
  }
  switch (n->type) {
    case YAML_SEQUENCE_NODE:
      snprintf(buf, size, "%s", io_seq_len(n) ? "a list" : "an empty list");
      return;
    case YAML_MAPPING_NODE:
      snprintf(buf, size, "%s",
               n->data.mapping.pairs.top > n->data.mapping.pairs.start
                   ? "a mapping" : "an empty mapping");
      return;
    case YAML_SCALAR_NODE: {
      const char *v = (const char *)n->data.scalar.value;
      size_t len = n->data.scalar.length;
      if (len == 0 && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        snprintf(buf, size, "nothing");
      else if (len <= 40)
        snprintf(buf, size, "'%s'", v);
      else {
        int keep = 37; /* cut at a UTF-8 character boundary */
        while (keep > 0 && ((unsigned char)v[keep] & 0xC0) == 0x80) keep--;
        snprintf(buf, size, "'%.*s...'", keep, v);
      }
      return;
    }
    default:
      snprintf(buf, size, "nothing");
      return;
  }
}

int io_seq_len(const yaml_node_t *seq) {
  if (!seq || seq->type != YAML_SEQUENCE_NODE) return 0;
  return (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *io_seq_at(io_doc *d, const yaml_node_t *seq, int i) {
  if (i < 0 || i >= io_seq_len(seq)) return NULL;
  return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

yaml_node_t *io_map_get(io_doc *d, const yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE &&
        strcmp((const char *)k->data.scalar.value, key) == 0)
      return yaml_document_get_node(&d->doc, p->value);
  }
  return NULL;
}
