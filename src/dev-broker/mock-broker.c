/*
 * mock-broker: a Kafka-protocol test broker for local development and integration tests.
 *
 * Starts librdkafka's in-process mock cluster, creates the requested topics, prints
 * `READY <bootstrap>` on stdout, then serves one line command at a time from stdin and
 * answers each with exactly one line, `OK ...` or `ERR ...`. It exits when stdin closes,
 * so a parent that dies (even by SIGKILL) never leaves a broker behind.
 *
 * Usage: mock-broker [--brokers N] --topic name:partitions [--topic ...]
 *
 * Commands:
 *   down <brokerId> | up <brokerId>        take a broker off / back on the network
 *   rtt <brokerId> <ms>                     add round-trip delay to a broker's responses
 *   error <apiKey> <errorCode> <count>      fail the next <count> requests of that API
 *   leader <topic> <partition> <brokerId>   move a partition's leadership
 *   produce <topic> <file> [codec] [rate]   produce a record file (framing below), wait for delivery;
 *                                           codec none (default), gzip, snappy, lz4 or zstd;
 *                                           keys pick partitions with Java's murmur2, null keys
 *                                           go round-robin; a rate > 0 paces sending at that
 *                                           many records/s and stamps each record with its send
 *                                           time (a live producer, for latency measurements)
 *   quit
 *
 * Record file framing (all integers big-endian), repeated until end of file:
 *   u32 key length (0xFFFFFFFF = null key), key bytes,
 *   u32 value length, value bytes, i64 timestamp in ms (-1 = broker/producer time).
 *
 * librdkafka 2.0.2's mock cluster always listens on an ephemeral port of 127.0.0.1;
 * a fixed port is offered by the TypeScript driver, which forwards it to this listener.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64
#define LINE_MAX_LEN 8192

static rd_kafka_t *owner;          /* the handle the mock cluster lives in */
static rd_kafka_mock_cluster_t *mcluster;
/* One producer per compression codec, each created on first use (the codec is a
 * producer-wide setting). */
static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
#define CODEC_CNT (sizeof(codecs) / sizeof(codecs[0]))
static rd_kafka_t *producers[CODEC_CNT];
static char *topics[MAX_TOPICS];   /* topics created with --topic */
static int topic_cnt;

/* Delivery accounting for the `produce` in progress (callbacks run on the polling thread). */
static long long delivered_ok;
static long long delivered_failed;
static rd_kafka_resp_err_t first_delivery_error;

static void die(const char *fmt, const char *arg) {
        fprintf(stderr, "mock-broker: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n");
        exit(1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
        (void)rk;
        (void)opaque;
        if (msg->err) {
                if (!delivered_failed)
                        first_delivery_error = msg->err;
                delivered_failed++;
        } else {
                delivered_ok++;
        }
}

static rd_kafka_conf_t *conf_or_die(const char *const *pairs) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        for (; pairs[0]; pairs += 2) {
                if (rd_kafka_conf_set(conf, pairs[0], pairs[1], errstr, sizeof(errstr)) !=
                    RD_KAFKA_CONF_OK)
                        die("bad librdkafka config: %s", errstr);
        }
        return conf;
}

static rd_kafka_t *ensure_producer(size_t codec) {
        if (producers[codec])
                return producers[codec];
        /* Java-compatible murmur2 so a key lands where a Java/kafkajs producer would put it;
         * idempotence keeps per-partition order even when requests are retried. */
        const char *pairs[] = {
            "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mcluster),
            "partitioner", "murmur2_random",
            "compression.codec", codecs[codec],
            "enable.idempotence", "true",
            "linger.ms", "20",
            "batch.size", "1000000",
            "batch.num.messages", "10000",
            "queue.buffering.max.messages", "1000000",
            "queue.buffering.max.kbytes", "1048576",
            "message.timeout.ms", "300000",
            "log_level", "3",
            NULL,
        };
        rd_kafka_conf_t *conf = conf_or_die(pairs);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        char errstr[512];
        producers[codec] = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!producers[codec])
                die("cannot create producer: %s", errstr);
        return producers[codec];
}

static uint32_t read_u32(const unsigned char *p) {
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int64_t read_i64(const unsigned char *p) {
        uint64_t hi = read_u32(p), lo = read_u32(p + 4);
        return (int64_t)((hi << 32) | lo);
}

/* Produces every record of `path` to `topic`; the file stays mapped until all are delivered,
 * so librdkafka can reference keys and values without copying them. */
static double monotonic_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cmd_produce(const char *topic, const char *path, size_t codec, long rate) {
        /* The mock creates any topic a Metadata request names, with a default partition count;
         * refusing unknown names keeps a typo from silently landing in a new topic. */
        int known = 0;
        for (int i = 0; i < topic_cnt; i++)
                known |= !strcmp(topics[i], topic);
        if (!known) {
                printf("ERR unknown topic %s (create it with --topic %s:<partitions>)\n", topic, topic);
                return;
        }
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
                printf("ERR cannot open %s: %s\n", path, strerror(errno));
                return;
        }
        struct stat st;
        fstat(fd, &st);
        size_t size = (size_t)st.st_size;
        const unsigned char *data = NULL;
        if (size > 0) {
                data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (data == MAP_FAILED) {
                        close(fd);
                        printf("ERR cannot map %s: %s\n", path, strerror(errno));
                        return;
                }
                madvise((void *)data, size, MADV_SEQUENTIAL);
        }
        close(fd);

        rd_kafka_t *rk = ensure_producer(codec);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        /* Null keys are spread round-robin, which needs the partition count; asking for it
         * also turns an unknown topic into a clear error instead of a long delivery timeout. */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        int partition_cnt = 0;
        if (!merr && md->topic_cnt == 1) {
                merr = md->topics[0].err;
                partition_cnt = md->topics[0].partition_cnt;
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        if (merr || partition_cnt <= 0) {
                rd_kafka_topic_destroy(rkt);
                if (data)
                        munmap((void *)data, size);
                printf("ERR topic %s: %s\n", topic,
                       merr ? rd_kafka_err2str(merr) : "no partitions");
                return;
        }
        int32_t next_null_partition = 0;
        delivered_ok = delivered_failed = 0;
        first_delivery_error = RD_KAFKA_RESP_ERR_NO_ERROR;
        long long sent = 0;
        const char *framing_error = NULL;
        size_t pos = 0;
        const double started = monotonic_seconds();
        while (pos < size) {
                /* Paced mode: never run ahead of rate * elapsed; poll (serving delivery
                 * callbacks) in 1 ms steps while waiting. */
                while (rate > 0 && sent >= (long long)((monotonic_seconds() - started) * (double)rate) + 1)
                        rd_kafka_poll(rk, 1);
                if (size - pos < 4) { framing_error = "truncated key length"; break; }
                uint32_t klen = read_u32(data + pos);
                pos += 4;
                const void *key = NULL;
                size_t key_len = 0;
                if (klen != 0xFFFFFFFFu) {
                        if (size - pos < klen) { framing_error = "truncated key"; break; }
                        key = data + pos;
                        key_len = klen;
                        pos += klen;
                }
                if (size - pos < 4) { framing_error = "truncated value length"; break; }
                uint32_t vlen = read_u32(data + pos);
                pos += 4;
                if (size - pos < (size_t)vlen + 8) { framing_error = "truncated value"; break; }
                const void *value = data + pos;
                pos += vlen;
                int64_t ts = read_i64(data + pos);
                pos += 8;
                for (;;) {
                        /* Keyed records go through the murmur2 partitioner (UA = unassigned). */
                        int32_t partition = key ? RD_KAFKA_PARTITION_UA : next_null_partition;
                        rd_kafka_resp_err_t err = rd_kafka_producev(
                            rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE((void *)value, vlen),
                            RD_KAFKA_V_TIMESTAMP(ts < 0 || rate > 0 ? 0 : ts), RD_KAFKA_V_MSGFLAGS(0),
                            RD_KAFKA_V_END);
                        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                rd_kafka_poll(rk, 10);
                                continue;
                        }
                        if (err) {
                                framing_error = rd_kafka_err2str(err);
                        }
                        break;
                }
                if (framing_error)
                        break;
                if (!key)
                        next_null_partition = (next_null_partition + 1) % partition_cnt;
                sent++;
                if ((sent & 0x3FFF) == 0)
                        rd_kafka_poll(rk, 0);
        }
        /* Wait for every queued record, even after a framing error, before unmapping. */
        while (rd_kafka_outq_len(rk) > 0)
                rd_kafka_flush(rk, 1000);
        rd_kafka_topic_destroy(rkt);
        if (data)
                munmap((void *)data, size);

        if (framing_error)
                printf("ERR %s after %lld records\n", framing_error, sent);
        else if (delivered_failed)
                printf("ERR %lld of %lld records not delivered: %s\n", delivered_failed, sent,
                       rd_kafka_err2str(first_delivery_error));
        else
                printf("OK produced %lld\n", delivered_ok);
}

static void reply_err(rd_kafka_resp_err_t err, const char *what) {
        if (err)
                printf("ERR %s: %s\n", what, rd_kafka_err2str(err));
        else
                printf("OK %s\n", what);
}

/* Parses one command line and answers it; returns 0 when the broker should stop. */
static int handle(char *line) {
        char *argv[8];
        int argc = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r\n", &save); tok && argc < 8;
             tok = strtok_r(NULL, " \t\r\n", &save))
                argv[argc++] = tok;
        if (argc == 0) {
                printf("ERR empty command\n");
                return 1;
        }
        const char *cmd = argv[0];
        if (!strcmp(cmd, "quit")) {
                printf("OK bye\n");
                return 0;
        } else if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && argc == 2) {
                int32_t id = atoi(argv[1]);
                rd_kafka_resp_err_t err = !strcmp(cmd, "down")
                                              ? rd_kafka_mock_broker_set_down(mcluster, id)
                                              : rd_kafka_mock_broker_set_up(mcluster, id);
                reply_err(err, cmd);
        } else if (!strcmp(cmd, "rtt") && argc == 3) {
                reply_err(rd_kafka_mock_broker_set_rtt(mcluster, atoi(argv[1]), atoi(argv[2])),
                          "rtt");
        } else if (!strcmp(cmd, "error") && argc == 4) {
                int count = atoi(argv[3]);
                if (count <= 0 || count > 100000) {
                        printf("ERR count must be 1..100000\n");
                        return 1;
                }
                rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)count);
                for (int i = 0; i < count; i++)
                        errs[i] = (rd_kafka_resp_err_t)atoi(argv[2]);
                rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)atoi(argv[1]),
                                                        (size_t)count, errs);
                free(errs);
                printf("OK error\n");
        } else if (!strcmp(cmd, "leader") && argc == 4) {
                reply_err(rd_kafka_mock_partition_set_leader(mcluster, argv[1], atoi(argv[2]),
                                                             atoi(argv[3])),
                          "leader");
        } else if (!strcmp(cmd, "produce") && argc >= 3 && argc <= 5) {
                size_t codec = 0;
                while (argc >= 4 && codec < CODEC_CNT && strcmp(codecs[codec], argv[3]))
                        codec++;
                long rate = argc == 5 ? atol(argv[4]) : 0;
                if (codec == CODEC_CNT)
                        printf("ERR unknown compression %s (none, gzip, snappy, lz4, zstd)\n", argv[3]);
                else if (rate < 0)
                        printf("ERR rate must be >= 0 records/s\n");
                else
                        cmd_produce(argv[1], argv[2], codec, rate);
        } else {
                printf("ERR unknown command or wrong arguments: %s\n", cmd);
        }
        return 1;
}

static void usage(void) {
        fprintf(stderr,
                "usage: mock-broker [--brokers N] --topic name:partitions [--topic ...]\n");
        exit(2);
}

int main(int argc, char **argv) {
        int brokers = 1;
        int partitions[MAX_TOPICS];

        /* Belt and braces with the stdin rule: die with the parent. Linux sends this signal
         * when the spawning *thread* exits, so start brokers from a process's main thread. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
                        brokers = atoi(argv[++i]);
                        if (brokers < 1 || brokers > 32)
                                die("--brokers must be 1..32, got %s", argv[i]);
                } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
                        char *spec = argv[++i];
                        char *colon = strrchr(spec, ':');
                        if (!colon || colon == spec || topic_cnt == MAX_TOPICS)
                                die("--topic wants name:partitions, got %s", spec);
                        *colon = '\0';
                        topics[topic_cnt] = spec;
                        partitions[topic_cnt] = atoi(colon + 1);
                        if (partitions[topic_cnt] < 1 || partitions[topic_cnt] > 10000)
                                die("partitions must be 1..10000 for topic %s", spec);
                        topic_cnt++;
                } else {
                        usage();
                }
        }

        const char *owner_pairs[] = {"log_level", "3", NULL};
        char errstr[512];
        owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf_or_die(owner_pairs), errstr, sizeof(errstr));
        if (!owner)
                die("cannot create handle: %s", errstr);
        mcluster = rd_kafka_mock_cluster_new(owner, brokers);
        if (!mcluster)
                die("%s", "cannot create the mock cluster");
        for (int i = 0; i < topic_cnt; i++) {
                int replicas = brokers < 3 ? brokers : 3;
                rd_kafka_resp_err_t err =
                    rd_kafka_mock_topic_create(mcluster, topics[i], partitions[i], replicas);
                if (err)
                        die("cannot create topic: %s", rd_kafka_err2str(err));
        }
        printf("READY %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));

        static char line[LINE_MAX_LEN];
        while (fgets(line, sizeof(line), stdin)) {
                if (!handle(line))
                        break;
        }

        for (size_t i = 0; i < CODEC_CNT; i++) {
                if (!producers[i])
                        continue;
                rd_kafka_flush(producers[i], 5000);
                rd_kafka_destroy(producers[i]);
        }
        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(owner);
        return 0;
}
