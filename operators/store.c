/*
 * store.c - the per-task hot state table behind store.h.
 *
 * One open-addressing hash table (linear probing, power-of-two size, load <= 0.7) per namespace.
 * Each entry is one heap block holding its key and its value (value 8-byte aligned), so pointers
 * handed out stay put until that entry is replaced by a larger value or deleted. Changed blocks are
 * queued on a dirty list in change order; flush() walks it. A deleted key keeps its block in the
 * table, marked deleted, until the flush has handed out its tombstone: until then lookups see it as
 * absent without asking the loader, which still has the old value. A block outgrown by a larger
 * value leaves the table at once and is freed by the flush if it was queued.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

enum { BLK_LIVE = 0, BLK_DELETED = 1, BLK_REPLACED = 2 };

/* A block: a 16-byte header, then the key, padding to 8, the value. The header keeps the low half
   of the key's hash (the slot index comes from the low bits; grow() re-places blocks with it). */
typedef struct blk {
    uint32_t hash, vlen, vcap;
    uint16_t klen;
    uint8_t ns;
    uint8_t flags; /* BLK_DIRTY | state << 1 */
    uint8_t data[];
} blk_t;

enum { BLK_DIRTY = 1 };

static inline bool blk_dirty(const blk_t *b)
{
    return b->flags & BLK_DIRTY;
}
static inline void blk_set_dirty(blk_t *b, bool d)
{
    b->flags = (uint8_t)((b->flags & ~BLK_DIRTY) | (d ? BLK_DIRTY : 0));
}
static inline int blk_state(const blk_t *b)
{
    return b->flags >> 1;
}
static inline void blk_set_state(blk_t *b, int st)
{
    b->flags = (uint8_t)((b->flags & BLK_DIRTY) | st << 1);
}

#define TOMB ((blk_t *)(uintptr_t)1)

typedef struct table {
    blk_t **slots;
    size_t mask;   /* size - 1, size a power of two; 0 when unallocated */
    size_t used;   /* live entries */
    size_t filled; /* live + tombstone slots */
} table_t;

/*
 * Blocks up to POOL_MAX bytes come from size classes of 16 bytes carved out of slabs and go back to
 * their class's free list, so a store in steady state (identities registered and swept, windows
 * created and emitted) allocates nothing per record. Slabs start at 64 KiB and double up to 4 MiB,
 * so a growing store (every incident stays resident) calls malloc a logarithmic number of times,
 * then once per 4 MiB; pages of a slab not carved yet are not touched, so they cost no RSS.
 * Larger blocks use malloc. A block outgrown by a value of more than GROW_MIN bytes is replaced by
 * one with half again its capacity, so that a list growing one entry at a time (a cell's recent
 * open times, a cell and problem's candidates) is copied a logarithmic number of times; blocks
 * freed on the way go back to the pools, where the next list to grow through that size takes them.
 */
#define POOL_CLASS 8
#define POOL_MAX 4096
#define SLAB_HDR 16 /* the slab's list link, padded */
#define GROW_MIN 512
#define POOL_SLAB_MIN ((size_t)64 << 10)
#define POOL_SLAB_MAX ((size_t)4 << 20)

typedef struct slab {
    struct slab *next;
} slab_t;

struct gs_store {
    table_t t[GS_NS__COUNT];
    void *free_list[POOL_MAX / POOL_CLASS + 1]; /* by size class */
    slab_t *slabs;
    size_t slab_size; /* of the next slab */
    uint8_t *carve;   /* unused tail of the newest slab */
    size_t carve_left;
    blk_t **dirty;
    size_t ndirty, cdirty;
    size_t bytes;
    gs_store_loader_fn loader;
    void *loader_ctx;
};

static size_t blk_bytes(size_t klen, size_t vcap)
{
    return sizeof(blk_t) + (((size_t)klen + 7u) & ~(size_t)7u) + vcap;
}

static void *pool_alloc(gs_store_t *s, size_t n)
{
#ifdef GS_NO_POOL /* sanitizer builds: every block its own allocation, so ASan sees each one */
    (void)s;
    return malloc(n);
#endif
    if (n > POOL_MAX) return malloc(n);
    size_t c = (n + POOL_CLASS - 1) / POOL_CLASS;
    void *p = s->free_list[c];
    if (p) {
        memcpy(&s->free_list[c], p, sizeof(void *));
        return p;
    }
    size_t sz = c * POOL_CLASS;
    if (s->carve_left < sz) {
        size_t ssz = s->slab_size < POOL_SLAB_MIN ? POOL_SLAB_MIN : s->slab_size;
        slab_t *sl = malloc(ssz);
        if (!sl) return NULL;
        s->slab_size = ssz < POOL_SLAB_MAX ? ssz * 2 : POOL_SLAB_MAX;
        /* the tail of the slab left behind goes to the free lists of the classes it fits */
        while (s->carve_left >= POOL_CLASS) {
            size_t tc = s->carve_left / POOL_CLASS;
            if (tc > POOL_MAX / POOL_CLASS) tc = POOL_MAX / POOL_CLASS;
            memcpy(s->carve, &s->free_list[tc], sizeof(void *));
            s->free_list[tc] = s->carve;
            s->carve += tc * POOL_CLASS;
            s->carve_left -= tc * POOL_CLASS;
        }
        sl->next = s->slabs;
        s->slabs = sl;
        s->carve = (uint8_t *)sl + SLAB_HDR;
        s->carve_left = ssz - SLAB_HDR;
    }
    p = s->carve;
    s->carve += sz;
    s->carve_left -= sz;
    return p;
}

static void blk_free(gs_store_t *s, blk_t *b)
{
    size_t n = blk_bytes(b->klen, b->vcap);
#ifdef GS_NO_POOL
    n = POOL_MAX + 1;
#endif
    if (n > POOL_MAX) {
        free(b);
        return;
    }
    size_t c = (n + POOL_CLASS - 1) / POOL_CLASS;
    memcpy(b, &s->free_list[c], sizeof(void *));
    s->free_list[c] = b;
}

static inline size_t koff(uint32_t klen)
{
    return ((size_t)klen + 7u) & ~(size_t)7u;
}

static inline void *blk_val(blk_t *b)
{
    return b->data + koff(b->klen);
}

gs_store_t *gs_store_new(void)
{
    return calloc(1, sizeof(gs_store_t));
}

void gs_store_destroy(gs_store_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->ndirty; i++) /* outgrown blocks live only on the dirty list */
        if (blk_state(s->dirty[i]) == BLK_REPLACED) blk_free(s, s->dirty[i]);
    for (int n = 0; n < GS_NS__COUNT; n++) {
        table_t *t = &s->t[n];
        if (t->mask)
            for (size_t i = 0; i <= t->mask; i++)
                if (t->slots[i] && t->slots[i] != TOMB)
                    blk_free(s, t->slots[i]); /* live and deleted-but-unflushed blocks */
        free(t->slots);
    }
    free(s->dirty);
    while (s->slabs) {
        slab_t *next = s->slabs->next;
        free(s->slabs);
        s->slabs = next;
    }
    free(s);
}

void gs_store_set_loader(gs_store_t *s, gs_store_loader_fn fn, void *ctx)
{
    s->loader = fn;
    s->loader_ctx = ctx;
}

static bool mark_dirty(gs_store_t *s, blk_t *b)
{
    if (blk_dirty(b)) return true;
    if (!GS_RESERVE(s->dirty, s->cdirty, s->ndirty + 1)) return false;
    s->dirty[s->ndirty++] = b;
    blk_set_dirty(b, true);
    return true;
}

/* Slot index holding key, or the slot where it would be inserted (*found = false). */
static size_t probe(const table_t *t, uint64_t h, const void *key, size_t klen, bool *found)
{
    size_t i = (size_t)h & t->mask, first_tomb = SIZE_MAX;
    for (;;) {
        blk_t *b = t->slots[i];
        if (!b) {
            *found = false;
            return first_tomb != SIZE_MAX ? first_tomb : i;
        }
        if (b == TOMB) {
            if (first_tomb == SIZE_MAX) first_tomb = i;
        } else if (b->hash == (uint32_t)h && b->klen == klen && memcmp(b->data, key, klen) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

static bool grow(table_t *t)
{
    /* size for the blocks that stay (live, and deleted ones waiting for their flush) at a load
       of at most one half, dropping the tombstones */
    size_t occupied = 0;
    for (size_t i = 0; t->mask && i <= t->mask; i++)
        occupied += t->slots[i] && t->slots[i] != TOMB;
    size_t nsize = 64;
    while (nsize < (occupied + 1) * 2)
        nsize *= 2;
    blk_t **ns = calloc(nsize, sizeof(*ns));
    if (!ns) return false;
    size_t moved = 0;
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        blk_t *b = t->slots[i];
        if (!b || b == TOMB) continue;
        size_t j = (size_t)b->hash & (nsize - 1);
        while (ns[j])
            j = (j + 1) & (nsize - 1);
        ns[j] = b;
        moved++; /* live blocks and deleted ones waiting for their flush */
    }
    free(t->slots);
    t->slots = ns;
    t->mask = nsize - 1;
    t->filled = moved;
    return true;
}

/* The live block of key, or NULL; *deleted tells whether a deleted block shadows the key. */
static blk_t *lookup(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, uint64_t h,
                     size_t *slot, bool *deleted)
{
    table_t *t = &s->t[ns];
    if (deleted) *deleted = false;
    if (!t->mask) return NULL;
    bool found;
    size_t i = probe(t, h, key, klen, &found);
    if (slot) *slot = i;
    if (!found) return NULL;
    if (blk_state(t->slots[i]) == BLK_DELETED) {
        if (deleted) *deleted = true;
        return NULL;
    }
    return t->slots[i];
}

static blk_t *blk_alloc(gs_store_t *s, gs_ns_t ns, uint64_t h, const void *key, size_t klen,
                        size_t vlen, size_t want)
{
    size_t vcap = ((vlen > want ? vlen : want) + 7u) & ~(size_t)7u;
    if (vcap == 0) vcap = 8;
    blk_t *b = pool_alloc(s, blk_bytes(klen, vcap));
    if (!b) return NULL;
    b->hash = (uint32_t)h;
    b->klen = (uint16_t)klen;
    b->vlen = (uint32_t)vlen;
    b->vcap = (uint32_t)vcap;
    b->ns = (uint8_t)ns;
    b->flags = BLK_LIVE << 1;
    memcpy(b->data, key, klen);
    return b;
}

/* Retires a block outgrown by a larger value (it has left the table). */
static void blk_retire(gs_store_t *s, blk_t *b)
{
    if (blk_state(b) == BLK_LIVE) s->bytes -= b->klen + b->vlen;
    if (blk_dirty(b))
        blk_set_state(b, BLK_REPLACED);
    else
        blk_free(s, b);
}

static void *put_hashed(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, uint64_t h,
                        const void *val, size_t vlen)
{
    if (klen > UINT16_MAX || vlen > UINT32_MAX / 2) return NULL;
    table_t *t = &s->t[ns];
    if ((t->filled + 1) * 10 > (t->mask + 1) * 7 || !t->mask)
        if (!grow(t)) return NULL;
    bool found;
    size_t i = probe(t, h, key, klen, &found);
    blk_t *b = found ? t->slots[i] : NULL;
    if (b &&
        blk_state(b) == BLK_DELETED) { /* the key comes back before its tombstone was flushed */
        t->used++;
        s->bytes += b->klen;
        b->vlen = 0;
        blk_set_state(b, BLK_LIVE);
    }
    if (b && vlen <= b->vcap) {
        s->bytes += vlen;
        s->bytes -= b->vlen;
        b->vlen = (uint32_t)vlen;
    } else {
        /* a list outgrowing its block gets half again its capacity; small values stay exact */
        size_t want = vlen;
        if (b && blk_bytes(klen, vlen) > GROW_MIN) want = (size_t)b->vcap + b->vcap / 2;
        blk_t *nb = blk_alloc(s, ns, h, key, klen, vlen, want);
        if (!nb) return NULL;
        if (b)
            blk_retire(s, b);
        else {
            t->used++;
            if (t->slots[i] != TOMB) t->filled++;
        }
        t->slots[i] = nb;
        s->bytes += klen + vlen;
        b = nb;
    }
    void *v = blk_val(b);
    if (val)
        memmove(v, val, vlen);
    else
        memset(v, 0, vlen);
    if (!mark_dirty(s, b)) return NULL;
    return v;
}

/* Takes a deleted block out of its table slot. */
static void unlink_blk(gs_store_t *s, blk_t *b)
{
    table_t *t = &s->t[b->ns];
    bool found;
    size_t i = probe(t, b->hash, b->data, b->klen, &found);
    if (found && t->slots[i] == b) t->slots[i] = TOMB;
}

/* The live block of key, asking the loader on a miss (a loaded entry is resident and clean). */
static blk_t *find(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, uint64_t h)
{
    bool deleted;
    blk_t *b = lookup(s, ns, key, klen, h, NULL, &deleted);
    if (!b && !deleted && s->loader) {
        void *v;
        size_t n;
        if (s->loader(s->loader_ctx, ns, key, klen, &v, &n)) {
            /* resident from now on, clean: it is already persisted */
            void *dst = put_hashed(s, ns, key, klen, h, v, n);
            free(v);
            if (!dst) return NULL;
            b = lookup(s, ns, key, klen, h, NULL, NULL);
            s->ndirty--; /* put_hashed queued it last */
            blk_set_dirty(b, false);
        }
    }
    return b;
}

const void *gs_store_get(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t *vlen)
{
    blk_t *b = find(s, ns, key, klen, gs_hash64(key, klen, (uint64_t)ns));
    if (!b) return NULL;
    if (vlen) *vlen = b->vlen;
    return blk_val(b);
}

void *gs_store_put(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    return put_hashed(s, ns, key, klen, gs_hash64(key, klen, (uint64_t)ns), val, vlen);
}

void *gs_store_update(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t *vlen)
{
    blk_t *b = find(s, ns, key, klen, gs_hash64(key, klen, (uint64_t)ns));
    if (!b || !mark_dirty(s, b)) return NULL;
    if (vlen) *vlen = b->vlen;
    return blk_val(b);
}

void *gs_store_upsert(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen, size_t vlen,
                      bool *created)
{
    uint64_t h = gs_hash64(key, klen, (uint64_t)ns);
    blk_t *b = find(s, ns, key, klen, h);
    if (created) *created = b == NULL;
    if (!b) return put_hashed(s, ns, key, klen, h, NULL, vlen);
    if (!mark_dirty(s, b)) return NULL;
    return blk_val(b);
}

/* Deletes the live block b, found in slot i of its table. */
static void del_blk(gs_store_t *s, blk_t *b, size_t i)
{
    table_t *t = &s->t[b->ns];
    t->used--;
    s->bytes -= b->klen + b->vlen;
    blk_set_state(b, BLK_DELETED); /* stays in its slot until the flush hands out the tombstone */
    if (!mark_dirty(s, b)) {
        /* no room to queue the tombstone: drop the block now (a loader would see the old value) */
        t->slots[i] = TOMB;
        blk_free(s, b);
    }
}

bool gs_store_del(gs_store_t *s, gs_ns_t ns, const void *key, size_t klen)
{
    uint64_t h = gs_hash64(key, klen, (uint64_t)ns);
    size_t i;
    blk_t *b = lookup(s, ns, key, klen, h, &i, NULL);
    if (!b) return false;
    del_blk(s, b, i);
    return true;
}

size_t gs_store_del_if(gs_store_t *s, gs_ns_t ns, gs_store_pred_fn fn, void *ctx)
{
    table_t *t = &s->t[ns];
    size_t n = 0;
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        blk_t *b = t->slots[i];
        if (!b || b == TOMB || blk_state(b) != BLK_LIVE) continue;
        if (!fn(ctx, b->data, b->klen, blk_val(b), b->vlen)) continue;
        del_blk(s, b, i);
        n++;
    }
    return n;
}

size_t gs_store_count(const gs_store_t *s, gs_ns_t ns)
{
    return s->t[ns].used;
}

size_t gs_store_bytes(const gs_store_t *s)
{
    return s->bytes;
}

void gs_store_scan(gs_store_t *s, gs_ns_t ns, const void *prefix, size_t plen, gs_store_iter_fn fn,
                   void *ctx)
{
    table_t *t = &s->t[ns];
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        blk_t *b = t->slots[i];
        if (!b || b == TOMB || blk_state(b) != BLK_LIVE || b->klen < plen ||
            (plen && memcmp(b->data, prefix, plen) != 0))
            continue;
        if (!fn(ctx, b->data, b->klen, blk_val(b), b->vlen)) return;
    }
}

void gs_store_flush(gs_store_t *s, gs_store_flush_fn fn, void *ctx)
{
    for (size_t i = 0; i < s->ndirty; i++) {
        blk_t *b = s->dirty[i];
        blk_set_dirty(b, false);
        if (blk_state(b) == BLK_LIVE) {
            if (fn) fn(ctx, (gs_ns_t)b->ns, b->data, b->klen, blk_val(b), b->vlen);
        } else {
            if (blk_state(b) == BLK_DELETED) {
                if (fn) fn(ctx, (gs_ns_t)b->ns, b->data, b->klen, NULL, 0);
                unlink_blk(s, b);
            }
            blk_free(s, b);
        }
    }
    s->ndirty = 0;
}
