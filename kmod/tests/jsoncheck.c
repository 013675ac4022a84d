// SPDX-License-Identifier: GPL-2.0-only
/*
 * jsoncheck - is standard input one JSON value (RFC 8259), and nothing
 * else?  Exit 0 if so, else 1 with the byte offset of the first error.
 * The guests have no python: this checks usmctl --json there.  Built
 * -static by kmod/tests/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT	(4 << 20)
#define MAX_DEPTH	64

static const char *p, *start, *end;

static void fail(const char *what)
{
	fprintf(stderr, "jsoncheck: %s at byte %ld\n", what, (long)(p - start));
	exit(1);
}

static void ws(void)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static void string(void)
{
	p++;	/* '"' */
	while (p < end && *p != '"') {
		if ((unsigned char)*p < 0x20)
			fail("control character in a string");
		if (*p == '\\') {
			p++;
			if (p >= end)
				break;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (p + i >= end || !is_hex(p[i]))
						fail("bad \\u escape");
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p)) {
				fail("bad escape");
			}
		}
		p++;
	}
	if (p >= end)
		fail("unterminated string");
	p++;
}

static void digits(void)
{
	if (p >= end || *p < '0' || *p > '9')
		fail("digit expected");
	while (p < end && *p >= '0' && *p <= '9')
		p++;
}

static void number(void)
{
	if (*p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else
		digits();
	if (p < end && *p == '.') {
		p++;
		digits();
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		digits();
	}
}

static void literal(const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(end - p) < n || memcmp(p, word, n))
		fail("unexpected character");
	p += n;
}

static void value(int depth)
{
	if (depth > MAX_DEPTH)
		fail("too deep");
	ws();
	if (p >= end)
		fail("value expected");
	switch (*p) {
	case '{':
		p++;
		ws();
		if (p < end && *p == '}') {
			p++;
			return;
		}
		for (;;) {
			ws();
			if (p >= end || *p != '"')
				fail("member name expected");
			string();
			ws();
			if (p >= end || *p != ':')
				fail("':' expected");
			p++;
			value(depth + 1);
			ws();
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p < end && *p == '}') {
				p++;
				return;
			}
			fail("',' or '}' expected");
		}
	case '[':
		p++;
		ws();
		if (p < end && *p == ']') {
			p++;
			return;
		}
		for (;;) {
			value(depth + 1);
			ws();
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p < end && *p == ']') {
				p++;
				return;
			}
			fail("',' or ']' expected");
		}
	case '"':
		string();
		return;
	case 't':
		literal("true");
		return;
	case 'f':
		literal("false");
		return;
	case 'n':
		literal("null");
		return;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			number();
			return;
		}
		fail("unexpected character");
	}
}

int main(void)
{
	static char buf[MAX_INPUT];
	size_t n = fread(buf, 1, sizeof(buf), stdin);

	if (n == sizeof(buf)) {
		fprintf(stderr, "jsoncheck: input too large\n");
		return 1;
	}
	start = p = buf;
	end = buf + n;
	value(0);
	ws();
	if (p != end)
		fail("garbage after the value");
	return 0;
}
