using System.Buffers.Binary;
using Akka.DistributedData;
using TcpStore.Akka.Cluster.Replication;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// How the store's state is laid out in Akka.DistributedData (docs/CLUSTER.md, "Replicated state"): the epoch
/// register (<see cref="StoreEpochKey"/>), the journal of group commits (<see cref="StoreJournalKey"/>), and
/// <c>buckets</c> <see cref="StoreBucket"/> entries named <c>tcpstore-bucket-N</c>, each holding the map entries and
/// queues whose key hashes to N. A map entry's id is <c>'k'</c> + the key's bytes as Latin-1 characters (one char per
/// byte, so any byte sequence maps to exactly one string and back); a queue's is <c>'q'</c> + its name, and its value
/// all its items, framed.
/// <para>Every key of a store starts with its prefix: <c>tcpstore</c> for the default store (the cluster singleton),
/// <c>tcpstore.NAME.INCARNATION</c> for a named store (<see cref="PrefixOf"/>), so that each store is its own
/// replicated, fenced unit, and a store created again under a removed one's name starts on keys of its own (a deleted
/// DistributedData key can never be written again).</para>
/// </summary>
internal sealed class ReplicaLayout(int buckets, string prefix = ReplicaLayout.DefaultPrefix)
{
    public const string DefaultPrefix = "tcpstore";

    private const char EntryPrefix = 'k';
    private const char QueuePrefix = 'q';

    public int Buckets { get; } = buckets;

    public string Prefix { get; } = prefix;

    private readonly StoreBucketKey[] _keys = Enumerable.Range(0, buckets).Select(b => new StoreBucketKey(b, prefix)).ToArray();

    public StoreEpochKey EpochKey { get; } = prefix == DefaultPrefix ? StoreEpochKey.Instance : new StoreEpochKey(prefix);

    public StoreJournalKey JournalKey { get; } = prefix == DefaultPrefix ? StoreJournalKey.Instance : new StoreJournalKey(prefix);

    public StoreBucketKey BucketKey(int bucket) => _keys[bucket];

    /// <summary>Every key of the store, for its removal.</summary>
    public IEnumerable<IKey<IReplicatedData>> AllKeys =>
        new IKey<IReplicatedData>[] { EpochKey, JournalKey }.Concat(_keys);

    /// <summary>The key prefix of the named store <paramref name="entityId"/> (<c>NAME.INCARNATION</c>).</summary>
    public static string PrefixOf(string entityId) => $"{DefaultPrefix}.{entityId}";

    /// <summary>The bucket of a replica id (<see cref="EntryId"/>, <see cref="QueueId"/>): that of its key's bytes.</summary>
    public int BucketOfId(string id)
    {
        var hash = 2166136261u;
        for (var i = 1; i < id.Length; i++) hash = (hash ^ (byte)id[i]) * 16777619u;
        return (int)(hash % (uint)Buckets);
    }

    /// <summary>The bucket of a key: FNV-1a of its bytes, the same in every process (unlike string hash codes).</summary>
    public int BucketOf(byte[] key)
    {
        var hash = 2166136261u;
        foreach (var b in key) hash = (hash ^ b) * 16777619u;
        return (int)(hash % (uint)Buckets);
    }

    public static string EntryId(byte[] key) => Id(EntryPrefix, key);

    public static string QueueId(byte[] name) => Id(QueuePrefix, name);

    private static string Id(char prefix, byte[] key) =>
        string.Create(key.Length + 1, (prefix, key), static (chars, state) =>
        {
            chars[0] = state.prefix;
            for (var i = 0; i < state.key.Length; i++) chars[i + 1] = (char)state.key[i];
        });

    /// <summary>Splits a dictionary key back into its kind (true: map entry, false: queue) and the key's bytes.</summary>
    public static bool TryParseId(string id, out bool isEntry, out byte[] key)
    {
        isEntry = id.Length > 0 && id[0] == EntryPrefix;
        key = [];
        if (id.Length == 0 || (!isEntry && id[0] != QueuePrefix)) return false;
        key = new byte[id.Length - 1];
        for (var i = 1; i < id.Length; i++)
        {
            if (id[i] > 0xFF) return false;
            key[i - 1] = (byte)id[i];
        }
        return true;
    }

    /// <summary>A queue's items as one value: a 4-byte count, then each item as a 4-byte length and its bytes.</summary>
    public static byte[] EncodeQueue(IReadOnlyCollection<byte[]> items)
    {
        var size = 4;
        foreach (var item in items) size += 4 + item.Length;
        var result = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(result, items.Count);
        var offset = 4;
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(offset), item.Length);
            item.CopyTo(result, offset + 4);
            offset += 4 + item.Length;
        }
        return result;
    }

    public static IReadOnlyList<byte[]> DecodeQueue(byte[] value)
    {
        var span = value.AsSpan();
        var count = BinaryPrimitives.ReadInt32LittleEndian(span);
        var items = new byte[count][];
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
            items[i] = span.Slice(offset + 4, length).ToArray();
            offset += 4 + length;
        }
        return items;
    }
}
