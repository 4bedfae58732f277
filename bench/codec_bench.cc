// codec_bench: Google Benchmark micro-benchmarks of pgferry's client-side codec, in bytes
// of raw COPY data per second on one core, next to memcpy.
//
//   build-bench/bench/codec_bench [--benchmark_filter=REGEX] [--benchmark_min_time=0.5]
//
// Input: 32 MB of COPY data generated in memory (deterministic): text rows shaped like the
// benchmark's bench.huge table (id, timestamp, ints, numeric, short words, a SKU), and the
// same rows in COPY binary format. PGFERRY_BENCH_COPYFILE=FILE uses the first 32 MB of a
// real decoded chunk (`pgferry cat`, binary format) instead of the generated binary data.
//
// What each measures (all single-threaded):
//   memcpy                 the memory-bandwidth yardstick
//   xxh3_128               XXH3_128bits over the buffer (pgferry hashes raw and stored bytes)
//   zstd_compress/L        ZSTD_compress2 of 1 MB blocks at level L (-1 = zstd's first fast
//                          level); "ratio" = raw/compressed
//   zstd_stream/L          ZSTD_compressStream2, one frame, 256 kB inputs, 1 MB output
//                          blocks: the streaming use of zstd inside chunk_encode
//   zstd_decompress        ZSTD_decompressDCtx of level-1 1 MB blocks
//   chunk_encode/L         (0 = codec none, else zstd:L) chunk_encoder_write in 256 kB pieces (dump's staging size) +
//                          finish: raw hash, zstd, stored hash, framing; sink discards
//   chunk_decode/L         (0 = none, 1 = zstd:1) chunk_decoder_feed in 1 MB pieces (restore's read size) + finish
//   copyrows/fmt           the COPY row splitter + per-row xxh3-128 content hash
//   dump_pipeline          copyrows(binary) + chunk_encode(zstd:1): dump's per-byte client work
//   restore_pipeline       chunk_decode(zstd:1) + copyrows(binary): restore's per-byte client work
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

extern "C" {
#include "codec/chunk.h"
#include "codec/copyrows.h"
#include "common/pf_util.h"
}

namespace {

constexpr size_t kDataSize = 32u << 20;
constexpr size_t kBlock = 1u << 20;
constexpr size_t kStage = 256u << 10;

uint64_t splitmix(uint64_t &s)
{
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const char *const kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                              "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
                              "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
                              "yankee", "zulu", "order", "payment", "shipped", "refund", "customer", "invoice"};
const char *const kCur[] = {"EUR", "USD", "GBP", "JPY"};
const char *const kStatus[] = {"new", "paid", "shipped", "delivered", "returned"};

struct Row {
    std::vector<std::string> fields;
};

Row make_row(uint64_t g, uint64_t &s)
{
    Row r;
    char b[128];
    r.fields.push_back(std::to_string(g));
    uint64_t t = 1704067200ull + g * 7;
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S+00", &tm);
    r.fields.push_back(b);
    r.fields.push_back(std::to_string(splitmix(s) % 500000));
    uint64_t cents = splitmix(s) % 10000000;
    snprintf(b, sizeof b, "%llu.%02llu", (unsigned long long)(cents / 100), (unsigned long long)(cents % 100));
    r.fields.push_back(b);
    r.fields.push_back(kCur[splitmix(s) % 4]);
    r.fields.push_back(kStatus[splitmix(s) % 5]);
    std::string note;
    for (int i = 0; i < 4; i++) {
        note += kWords[splitmix(s) % 32];
        note += ' ';
    }
    note += "#" + std::to_string(splitmix(s) % 100000);
    r.fields.push_back(note);
    snprintf(b, sizeof b, "SKU-%010llX", (unsigned long long)(splitmix(s) & 0xFFFFFFFFFFull));
    r.fields.push_back(b);
    return r;
}

void put_be32(std::string &o, uint32_t v)
{
    char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    o.append(b, 4);
}

struct Data {
    std::string text, binary;
    Data()
    {
        uint64_t s = 42;
        text.reserve(kDataSize + 4096);
        binary.reserve(kDataSize + 4096);
        binary.append("PGCOPY\n\377\r\n\0", 11);
        put_be32(binary, 0); // flags
        put_be32(binary, 0); // header extension length
        for (uint64_t g = 1; text.size() < kDataSize || binary.size() < kDataSize - 2; g++) {
            Row r = make_row(g, s);
            if (text.size() < kDataSize) {
                for (size_t i = 0; i < r.fields.size(); i++) {
                    if (i)
                        text += '\t';
                    text += r.fields[i];
                }
                text += '\n';
            }
            if (binary.size() < kDataSize - 2) {
                // Binary COPY shape (field count, then length-prefixed values); the values
                // are the text forms, which the splitter and hash do not care about.
                char nf[2] = {0, (char)r.fields.size()};
                binary.append(nf, 2);
                for (auto &f : r.fields) {
                    put_be32(binary, (uint32_t)f.size());
                    binary += f;
                }
            }
        }
        // cut text at its last full line, close binary with the -1 trailer
        text.resize(text.rfind('\n', kDataSize - 1) + 1);
        binary.append("\377\377", 2);
        const char *file = getenv("PGFERRY_BENCH_COPYFILE");
        if (file && *file) {
            FILE *f = fopen(file, "rb");
            if (!f) {
                fprintf(stderr, "codec_bench: cannot open %s; using generated data\n", file);
                return;
            }
            std::string real(kDataSize, '\0');
            size_t n = fread(&real[0], 1, kDataSize, f);
            fclose(f);
            real.resize(n);
            if (n > 0)
                binary = real; // copyrows/binary is skipped for a cut file (no row boundary)
            real_file = n > 0;
        }
    }
    bool real_file = false;
};

const Data &data()
{
    static Data d;
    return d;
}

int discard(void *, const void *, size_t, char *, size_t) { return 0; }

void BM_memcpy(benchmark::State &st)
{
    const std::string &in = data().binary;
    std::vector<char> out(in.size());
    for (auto _ : st) {
        memcpy(out.data(), in.data(), in.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
}

void BM_xxh3_128(benchmark::State &st)
{
    const std::string &in = data().binary;
    for (auto _ : st) {
        XXH128_hash_t h = XXH3_128bits(in.data(), in.size());
        benchmark::DoNotOptimize(h);
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
}

void BM_zstd_compress(benchmark::State &st)
{
    const std::string &in = data().binary;
    int level = (int)st.range(0);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    std::vector<char> out(ZSTD_compressBound(kBlock));
    size_t total = 0;
    for (auto _ : st) {
        total = 0;
        for (size_t off = 0; off < in.size(); off += kBlock) {
            size_t n = std::min(kBlock, in.size() - off);
            size_t r = ZSTD_compress2(c, out.data(), out.size(), in.data() + off, n);
            if (ZSTD_isError(r)) {
                st.SkipWithError(ZSTD_getErrorName(r));
                break;
            }
            total += r;
        }
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    st.counters["ratio"] = total ? (double)in.size() / (double)total : 0;
    ZSTD_freeCCtx(c);
}

// The streaming API the chunk encoder uses (one frame per chunk, ZSTD_e_continue with
// 256 kB inputs, output cut into 1 MB blocks), without hashing or framing: the difference
// to zstd_compress is the streaming mode's, the difference to chunk_encode the chunk's.
void BM_zstd_stream(benchmark::State &st)
{
    const std::string &in = data().binary;
    int level = (int)st.range(0);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    std::vector<char> out(kBlock);
    size_t total = 0;
    for (auto _ : st) {
        total = 0;
        ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
        ZSTD_outBuffer ob = {out.data(), out.size(), 0};
        for (size_t off = 0; off <= in.size(); off += kStage) {
            bool last = off + kStage >= in.size();
            ZSTD_inBuffer ib = {in.data() + off, std::min(kStage, in.size() - off), 0};
            for (;;) {
                size_t r = ZSTD_compressStream2(c, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
                if (ZSTD_isError(r)) {
                    st.SkipWithError(ZSTD_getErrorName(r));
                    return;
                }
                if (ob.pos == ob.size) {
                    total += ob.pos;
                    ob.pos = 0;
                }
                if (last ? r == 0 : ib.pos == ib.size)
                    break;
            }
            if (last)
                break;
        }
        total += ob.pos;
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    st.counters["ratio"] = total ? (double)in.size() / (double)total : 0;
    ZSTD_freeCCtx(c);
}

void BM_zstd_decompress(benchmark::State &st)
{
    const std::string &in = data().binary;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    std::vector<std::string> frames;
    std::vector<char> tmp(ZSTD_compressBound(kBlock));
    for (size_t off = 0; off < in.size(); off += kBlock) {
        size_t n = std::min(kBlock, in.size() - off);
        size_t r = ZSTD_compress2(c, tmp.data(), tmp.size(), in.data() + off, n);
        frames.emplace_back(tmp.data(), r);
    }
    ZSTD_freeCCtx(c);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    std::vector<char> out(kBlock);
    for (auto _ : st) {
        for (auto &f : frames) {
            size_t r = ZSTD_decompressDCtx(d, out.data(), out.size(), f.data(), f.size());
            benchmark::DoNotOptimize(r);
        }
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    ZSTD_freeDCtx(d);
}

// Encodes in into a chunk held in memory (when keep) or discarded.
std::string encode(const std::string &in, chunk_codec codec, int level, bool keep, chunk_encoder *e)
{
    std::string out;
    char err[PF_ERRLEN];
    auto sink = [](void *ctx, const void *buf, size_t len, char *, size_t) -> int {
        static_cast<std::string *>(ctx)->append(static_cast<const char *>(buf), len);
        return 0;
    };
    chunk_encoder_reset(e, keep ? +sink : discard, keep ? &out : nullptr);
    for (size_t off = 0; off < in.size(); off += kStage)
        chunk_encoder_write(e, in.data() + off, std::min(kStage, in.size() - off), err, sizeof err);
    chunk_stats s;
    if (chunk_encoder_finish(e, &s, err, sizeof err) != 0)
        fprintf(stderr, "codec_bench: %s\n", err);
    (void)codec;
    (void)level;
    return out;
}

void BM_chunk_encode(benchmark::State &st)
{
    const std::string &in = data().binary;
    chunk_codec codec = !st.range(0) ? CHUNK_CODEC_NONE : st.range(1) ? CHUNK_CODEC_ZSTD_COLUMNS : CHUNK_CODEC_ZSTD;
    int level = (int)st.range(0);
    char err[PF_ERRLEN];
    chunk_encoder *e = chunk_encoder_new(codec, level ? level : 1, err, sizeof err);
    if (!e) {
        st.SkipWithError(err);
        return;
    }
    size_t stored = encode(in, codec, level, true, e).size();
    for (auto _ : st)
        encode(in, codec, level, false, e);
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    st.counters["ratio"] = (double)in.size() / (double)stored;
    st.SetLabel(codec == CHUNK_CODEC_NONE ? "none" : (std::string(chunk_codec_name(codec)) + ":" + std::to_string(level)).c_str());
    chunk_encoder_free(e);
}

void BM_chunk_decode(benchmark::State &st)
{
    const std::string &in = data().binary;
    chunk_codec codec = !st.range(0) ? CHUNK_CODEC_NONE : st.range(1) ? CHUNK_CODEC_ZSTD_COLUMNS : CHUNK_CODEC_ZSTD;
    int level = (int)st.range(0);
    char err[PF_ERRLEN];
    chunk_encoder *e = chunk_encoder_new(codec, level ? level : 1, err, sizeof err);
    std::string stored = encode(in, codec, level, true, e);
    chunk_encoder_free(e);
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    for (auto _ : st) {
        chunk_decoder_reset(d, discard, nullptr);
        for (size_t off = 0; off < stored.size(); off += kBlock)
            if (chunk_decoder_feed(d, stored.data() + off, std::min(kBlock, stored.size() - off), err, sizeof err) != 0)
                break;
        if (chunk_decoder_finish(d, nullptr, err, sizeof err) != 0) {
            st.SkipWithError(err);
            break;
        }
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    st.SetLabel(codec == CHUNK_CODEC_NONE ? "none" : (std::string(chunk_codec_name(codec)) + ":" + std::to_string(level)).c_str());
    chunk_decoder_free(d);
}

void BM_copyrows(benchmark::State &st)
{
    bool binary = st.range(0) != 0;
    if (binary && data().real_file) {
        st.SkipWithError("a cut real COPY file does not end on a row boundary");
        return;
    }
    const std::string &in = binary ? data().binary : data().text;
    copyrows *p = copyrows_new(binary ? COPYROWS_BINARY : COPYROWS_TEXT);
    char err[PF_ERRLEN];
    for (auto _ : st) {
        copyrows_reset(p);
        for (size_t off = 0; off < in.size(); off += 65536)
            copyrows_feed(p, in.data() + off, std::min<size_t>(65536, in.size() - off), err, sizeof err);
        if (copyrows_finish(p, err, sizeof err) != 0) {
            st.SkipWithError(err);
            break;
        }
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    st.counters["rows"] = (double)copyrows_rows(p);
    st.SetLabel(binary ? "binary" : "text");
    copyrows_free(p);
}

// dump: every COPY byte is split into rows and hashed, then encoded (hash, zstd:1, hash)
void BM_dump_pipeline(benchmark::State &st)
{
    const std::string &in = data().binary;
    char err[PF_ERRLEN];
    chunk_encoder *e = chunk_encoder_new(CHUNK_CODEC_ZSTD, 1, err, sizeof err);
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    for (auto _ : st) {
        copyrows_reset(p);
        chunk_encoder_reset(e, discard, nullptr);
        for (size_t off = 0; off < in.size(); off += kStage) {
            size_t n = std::min(kStage, in.size() - off);
            copyrows_feed(p, in.data() + off, n, err, sizeof err);
            chunk_encoder_write(e, in.data() + off, n, err, sizeof err);
        }
        chunk_encoder_finish(e, nullptr, err, sizeof err);
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    copyrows_free(p);
    chunk_encoder_free(e);
}

// restore: decode (hash, unzstd, hash) and split/hash the rows on their way to COPY FROM
void BM_restore_pipeline(benchmark::State &st)
{
    const std::string &in = data().binary;
    char err[PF_ERRLEN];
    chunk_encoder *e = chunk_encoder_new(CHUNK_CODEC_ZSTD, 1, err, sizeof err);
    std::string stored = encode(in, CHUNK_CODEC_ZSTD, 1, true, e);
    chunk_encoder_free(e);
    chunk_decoder *d = chunk_decoder_new(err, sizeof err);
    copyrows *p = copyrows_new(COPYROWS_BINARY);
    auto sink = [](void *ctx, const void *buf, size_t len, char *er, size_t erl) -> int {
        return copyrows_feed(static_cast<copyrows *>(ctx), buf, len, er, erl);
    };
    for (auto _ : st) {
        copyrows_reset(p);
        chunk_decoder_reset(d, +sink, p);
        for (size_t off = 0; off < stored.size(); off += kBlock)
            chunk_decoder_feed(d, stored.data() + off, std::min(kBlock, stored.size() - off), err, sizeof err);
        chunk_decoder_finish(d, nullptr, err, sizeof err);
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
    copyrows_free(p);
    chunk_decoder_free(d);
}

} // namespace

BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_xxh3_128)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_zstd_compress)->Arg(-1)->Arg(1)->Arg(3)->Arg(6)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_zstd_stream)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_zstd_decompress)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_chunk_encode)->Args({0, 0})->Args({-1, 0})->Args({1, 0})->Args({3, 0})->Args({1, 1})->Args({3, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_chunk_decode)->Args({0, 0})->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_copyrows)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dump_pipeline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_restore_pipeline)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
