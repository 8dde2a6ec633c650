using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using static TcpStore.Akka.Store.StoreProtocol;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace TcpStore.Akka.Cluster.Serialization;

/// <summary>
/// Compact binary serializer for the <see cref="StoreProtocol"/> messages that cross nodes in cluster mode (a
/// connection on one node talks to the store singleton on another). Akka's default JSON serializer is slow, bloats
/// byte arrays, and deserializes whatever type a payload names; this one knows exactly these types.
/// </summary>
/// <remarks>
/// <para>
/// Format: fixed-width numbers little-endian; lengths and counts unsigned LEB128 varints; a byte array is its length
/// then its bytes; a nullable byte array is its length plus one (0 for null) then its bytes; a string is UTF-8 bytes
/// as a byte array; an actor ref is its serialized path as a string; a list is its count then its elements; an
/// optional value is a 0/1 flag byte then the value. Singletons deserialize to their shared instances.
/// </para>
/// <para>Manifests (the message types):</para>
/// <list type="table">
/// <item><term>X</term><description><see cref="Execute"/>: connection ref, queries</description></item>
/// <item><term>D</term><description><see cref="Executed"/>: replies, optional rejection (query type byte, reason, detail)</description></item>
/// <item><term>W</term><description><see cref="WaitCompleted"/>: empty</description></item>
/// <item><term>C</term><description><see cref="ConnectionClosed"/>: connection ref</description></item>
/// <item><term>S</term><description><see cref="GetStats"/>: empty</description></item>
/// <item><term>s</term><description><see cref="StoreStats"/>: i32 keys, i32 queues, i64 queue items, i64 stored bytes, i32 waiting connections, i32 registrations</description></item>
/// <item><term>G</term><description><see cref="GetWaiters"/>: i32 max keys, i32 max connections per key</description></item>
/// <item><term>g</term><description><see cref="Waiters"/>: i32 total keys, awaited keys</description></item>
/// <item><term>K</term><description><see cref="AwaitedKey"/>: key, i32 registrations, connection refs</description></item>
/// <item><term>E</term><description><see cref="ListEntries"/>: i32 offset, i32 limit, i32 preview bytes</description></item>
/// <item><term>e</term><description><see cref="Entries"/>: i32 total, i32 offset, entries</description></item>
/// <item><term>N</term><description><see cref="Entry"/>: key, i32 value bytes, nullable value</description></item>
/// <item><term>Q</term><description><see cref="ListQueues"/>: i32 limit</description></item>
/// <item><term>q</term><description><see cref="QueueList"/>: i32 total, queue infos</description></item>
/// <item><term>I</term><description><see cref="QueueInfo"/>: name, i32 items</description></item>
/// </list>
/// <para>
/// A query is its <see cref="QueryType"/> byte (1-17) then its fields: keys and values as byte arrays, ADD's delta
/// i64, PING's nonce u32, MULTI_SET a count of key/value pairs; GETNUMKEYS, CANCEL_WAIT and LIST_KEYS have none.
/// A reply is a tag byte then its fields: 1 Bytes (array), 2 Integer (i64), 3 CheckResult ready, 4 CheckResult not
/// ready, 5 StopWaiting, 6 WaitCanceled, 7 WaitPending, 8 Pong (u32), 9 MultiBytes (arrays), 10 QueueItem (i64,
/// nullable array), 11 KeyList (arrays).
/// </para>
/// <para>The tags, manifests and field order are the wire format between nodes: never renumber, only add.</para>
/// </remarks>
public sealed class StoreMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>The serializer id on the wire: fixed, since every node must agree. Akka keeps 0-100 for its own.</summary>
    public const int SerializerId = 7370;

    /// <summary>The name the serializer is registered under.</summary>
    public const string Name = "tcpstore";

    private const string ExecuteManifest = "X";
    private const string ExecutedManifest = "D";
    private const string WaitCompletedManifest = "W";
    private const string ConnectionClosedManifest = "C";
    private const string GetStatsManifest = "S";
    private const string StoreStatsManifest = "s";
    private const string GetWaitersManifest = "G";
    private const string WaitersManifest = "g";
    private const string AwaitedKeyManifest = "K";
    private const string ListEntriesManifest = "E";
    private const string EntriesManifest = "e";
    private const string EntryManifest = "N";
    private const string ListQueuesManifest = "Q";
    private const string QueueListManifest = "q";
    private const string QueueInfoManifest = "I";

    private const byte BytesTag = 1;
    private const byte IntegerTag = 2;
    private const byte ReadyTag = 3;
    private const byte NotReadyTag = 4;
    private const byte StopWaitingTag = 5;
    private const byte WaitCanceledTag = 6;
    private const byte WaitPendingTag = 7;
    private const byte PongTag = 8;
    private const byte MultiBytesTag = 9;
    private const byte QueueItemTag = 10;
    private const byte KeyListTag = 11;

    /// <summary>Every message type this serializer handles; <see cref="Register"/> binds each of them.</summary>
    public static IReadOnlyList<Type> MessageTypes { get; } =
    [
        typeof(Execute), typeof(Executed), typeof(WaitCompleted), typeof(ConnectionClosed),
        typeof(GetStats), typeof(StoreStats),
        typeof(GetWaiters), typeof(Waiters), typeof(AwaitedKey),
        typeof(ListEntries), typeof(Entries), typeof(Entry),
        typeof(ListQueues), typeof(QueueList), typeof(QueueInfo),
    ];

    /// <summary>
    /// The serializer, its identifier and a binding for every type of <see cref="MessageTypes"/>, as HOCON under
    /// <c>akka.actor</c>. Built from the types so that no assembly-qualified name is spelled out by hand.
    /// </summary>
    public static Config Configuration { get; } = BuildConfiguration();

    private static Config BuildConfiguration()
    {
        static string NameOf(Type type) => $"\"{type.FullName}, {type.Assembly.GetName().Name}\"";
        var self = NameOf(typeof(StoreMessageSerializer));
        var hocon = new StringBuilder();
        hocon.Append("akka.actor.serializers.").Append(Name).Append(" = ").Append(self).Append('\n');
        hocon.Append("akka.actor.serialization-identifiers { ").Append(self).Append(" = ").Append(SerializerId).Append(" }\n");
        hocon.Append("akka.actor.serialization-bindings {\n");
        foreach (var type in MessageTypes) hocon.Append("  ").Append(NameOf(type)).Append(" = ").Append(Name).Append('\n');
        hocon.Append("}\n");
        return ConfigurationFactory.ParseString(hocon.ToString());
    }

    /// <summary>
    /// Binds every type of <see cref="MessageTypes"/> to this serializer in <paramref name="system"/> (again: no
    /// effect) and returns the system's instance. Injected as a configuration fallback, not added with
    /// <c>Serialization.AddSerializer</c>: every extension that injects its own fallback later (DistributedData,
    /// the singleton) makes Akka rebuild its serializers from configuration, which would drop one added by hand. The
    /// message types live in the core assembly, which knows nothing of the cluster, hence no static binding. Call
    /// it before the system sends any of these messages to another node.
    /// </summary>
    public static StoreMessageSerializer Register(ActorSystem system)
    {
        system.Settings.InjectTopLevelFallback(Configuration);
        return (StoreMessageSerializer)system.Serialization.FindSerializerForType(MessageTypes[0]);
    }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => o switch
    {
        Execute => ExecuteManifest,
        Executed => ExecutedManifest,
        WaitCompleted => WaitCompletedManifest,
        ConnectionClosed => ConnectionClosedManifest,
        GetStats => GetStatsManifest,
        StoreStats => StoreStatsManifest,
        GetWaiters => GetWaitersManifest,
        Waiters => WaitersManifest,
        AwaitedKey => AwaitedKeyManifest,
        ListEntries => ListEntriesManifest,
        Entries => EntriesManifest,
        Entry => EntryManifest,
        ListQueues => ListQueuesManifest,
        QueueList => QueueListManifest,
        QueueInfo => QueueInfoManifest,
        _ => throw Unsupported(o),
    };

    public override byte[] ToBinary(object obj) => obj switch
    {
        Execute m => ToBinary(m),
        Executed m => ToBinary(m),
        WaitCompleted or GetStats => [],
        ConnectionClosed m => ToBinary(m),
        StoreStats m => ToBinary(m),
        GetWaiters m => ToBinary(m),
        Waiters m => ToBinary(m),
        AwaitedKey m => ToBinary(m),
        ListEntries m => ToBinary(m),
        Entries m => ToBinary(m),
        Entry m => ToBinary(m),
        ListQueues m => ToBinary(m),
        QueueList m => ToBinary(m),
        QueueInfo m => ToBinary(m),
        _ => throw Unsupported(obj),
    };

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var reader = new PayloadReader(bytes, manifest);
        object message = manifest switch
        {
            ExecuteManifest => new Execute(ReadRef(ref reader), ReadQueries(ref reader)),
            ExecutedManifest => new Executed(ReadReplies(ref reader), ReadRejection(ref reader)),
            WaitCompletedManifest => WaitCompleted.Instance,
            ConnectionClosedManifest => new ConnectionClosed(ReadRef(ref reader)),
            GetStatsManifest => GetStats.Instance,
            StoreStatsManifest => new StoreStats(
                reader.Int32(), reader.Int32(), reader.Int64(), reader.Int64(), reader.Int32(), reader.Int32()),
            GetWaitersManifest => new GetWaiters(reader.Int32(), reader.Int32()),
            WaitersManifest => ReadWaiters(ref reader),
            AwaitedKeyManifest => ReadAwaitedKey(ref reader),
            ListEntriesManifest => new ListEntries(reader.Int32(), reader.Int32(), reader.Int32()),
            EntriesManifest => ReadEntries(ref reader),
            EntryManifest => ReadEntry(ref reader),
            ListQueuesManifest => new ListQueues(reader.Int32()),
            QueueListManifest => ReadQueueList(ref reader),
            QueueInfoManifest => ReadQueueInfo(ref reader),
            _ => throw new SerializationException($"Unknown TcpStore message manifest [{manifest}] for serializer {SerializerId}."),
        };
        reader.End();
        return message;
    }

    private static ArgumentException Unsupported(object? o) =>
        new($"{nameof(StoreMessageSerializer)} cannot serialize [{o?.GetType().FullName ?? "null"}].");

    // ---- Messages ----

    private static byte[] ToBinary(Execute m)
    {
        var path = AkkaSerialization.SerializedActorPath(m.Connection);
        var writer = new PayloadWriter(PayloadWriter.SizeOf(path) + SizeOf(m.Queries));
        writer.String(path);
        Write(ref writer, m.Queries);
        return writer.Complete();
    }

    private static byte[] ToBinary(Executed m)
    {
        var rejection = m.Rejection;
        var size = SizeOf(m.Replies) + 1;
        if (rejection is not null)
            size += 1 + PayloadWriter.SizeOf(rejection.Reason) + PayloadWriter.SizeOf(rejection.Detail);
        var writer = new PayloadWriter(size);
        Write(ref writer, m.Replies);
        writer.Bool(rejection is not null);
        if (rejection is not null)
        {
            writer.Byte((byte)rejection.Query);
            writer.String(rejection.Reason);
            writer.String(rejection.Detail);
        }
        return writer.Complete();
    }

    private static byte[] ToBinary(ConnectionClosed m)
    {
        var path = AkkaSerialization.SerializedActorPath(m.Connection);
        var writer = new PayloadWriter(PayloadWriter.SizeOf(path));
        writer.String(path);
        return writer.Complete();
    }

    private static byte[] ToBinary(StoreStats m)
    {
        var writer = new PayloadWriter(4 * sizeof(int) + 2 * sizeof(long));
        writer.Int32(m.Keys);
        writer.Int32(m.Queues);
        writer.Int64(m.QueueItems);
        writer.Int64(m.StoredBytes);
        writer.Int32(m.WaitingConnections);
        writer.Int32(m.WaiterRegistrations);
        return writer.Complete();
    }

    private static byte[] ToBinary(GetWaiters m)
    {
        var writer = new PayloadWriter(2 * sizeof(int));
        writer.Int32(m.MaxKeys);
        writer.Int32(m.MaxConnectionsPerKey);
        return writer.Complete();
    }

    private static byte[] ToBinary(Waiters m)
    {
        // Actor paths are built once, for sizing and writing.
        var paths = new string[m.Keys.Count][];
        var size = sizeof(int) + PayloadWriter.SizeOfLength(m.Keys.Count);
        for (var i = 0; i < paths.Length; i++)
        {
            paths[i] = PathsOf(m.Keys[i].Connections);
            size += SizeOf(m.Keys[i], paths[i]);
        }
        var writer = new PayloadWriter(size);
        writer.Int32(m.TotalKeys);
        writer.Length(m.Keys.Count);
        for (var i = 0; i < paths.Length; i++)
            Write(ref writer, m.Keys[i], paths[i]);
        return writer.Complete();
    }

    private static byte[] ToBinary(AwaitedKey m)
    {
        var paths = PathsOf(m.Connections);
        var writer = new PayloadWriter(SizeOf(m, paths));
        Write(ref writer, m, paths);
        return writer.Complete();
    }

    private static byte[] ToBinary(ListEntries m)
    {
        var writer = new PayloadWriter(3 * sizeof(int));
        writer.Int32(m.Offset);
        writer.Int32(m.Limit);
        writer.Int32(m.PreviewBytes);
        return writer.Complete();
    }

    private static byte[] ToBinary(Entries m)
    {
        var size = 2 * sizeof(int) + PayloadWriter.SizeOfLength(m.Items.Count);
        for (var i = 0; i < m.Items.Count; i++)
            size += SizeOf(m.Items[i]);
        var writer = new PayloadWriter(size);
        writer.Int32(m.Total);
        writer.Int32(m.Offset);
        writer.Length(m.Items.Count);
        for (var i = 0; i < m.Items.Count; i++)
            Write(ref writer, m.Items[i]);
        return writer.Complete();
    }

    private static byte[] ToBinary(Entry m)
    {
        var writer = new PayloadWriter(SizeOf(m));
        Write(ref writer, m);
        return writer.Complete();
    }

    private static byte[] ToBinary(ListQueues m)
    {
        var writer = new PayloadWriter(sizeof(int));
        writer.Int32(m.Limit);
        return writer.Complete();
    }

    private static byte[] ToBinary(QueueList m)
    {
        var size = sizeof(int) + PayloadWriter.SizeOfLength(m.Queues.Count);
        for (var i = 0; i < m.Queues.Count; i++)
            size += SizeOf(m.Queues[i]);
        var writer = new PayloadWriter(size);
        writer.Int32(m.Total);
        writer.Length(m.Queues.Count);
        for (var i = 0; i < m.Queues.Count; i++)
            Write(ref writer, m.Queues[i]);
        return writer.Complete();
    }

    private static byte[] ToBinary(QueueInfo m)
    {
        var writer = new PayloadWriter(SizeOf(m));
        Write(ref writer, m);
        return writer.Complete();
    }

    private Waiters ReadWaiters(ref PayloadReader reader)
    {
        var totalKeys = reader.Int32();
        var keys = new AwaitedKey[reader.Count()];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = ReadAwaitedKey(ref reader);
        return new Waiters(totalKeys, keys);
    }

    private static Entries ReadEntries(ref PayloadReader reader)
    {
        var total = reader.Int32();
        var offset = reader.Int32();
        var items = new Entry[reader.Count()];
        for (var i = 0; i < items.Length; i++)
            items[i] = ReadEntry(ref reader);
        return new Entries(total, offset, items);
    }

    private static QueueList ReadQueueList(ref PayloadReader reader)
    {
        var total = reader.Int32();
        var queues = new QueueInfo[reader.Count()];
        for (var i = 0; i < queues.Length; i++)
            queues[i] = ReadQueueInfo(ref reader);
        return new QueueList(total, queues);
    }

    private static Rejection? ReadRejection(ref PayloadReader reader)
    {
        if (!reader.Bool())
            return null;
        var type = reader.Byte();
        return type <= (byte)WireFormat.LastQueryType
            ? new Rejection((QueryType)type, reader.String(), reader.String())
            : throw reader.Malformed($"query type {type} is unknown");
    }

    // ---- Parts of messages ----

    private static string[] PathsOf(IReadOnlyList<IActorRef> refs)
    {
        var paths = new string[refs.Count];
        for (var i = 0; i < paths.Length; i++)
            paths[i] = AkkaSerialization.SerializedActorPath(refs[i]);
        return paths;
    }

    private IActorRef ReadRef(ref PayloadReader reader)
    {
        var path = reader.String();
        try
        {
            return system.Provider.ResolveActorRef(path);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            // A damaged path can fail to parse (a UID that is not a number, say) rather than resolve to dead letters.
            throw reader.Malformed($"actor path [{path}] does not parse ({e.Message})");
        }
    }

    private static int SizeOf(AwaitedKey key, string[] paths)
    {
        var size = PayloadWriter.SizeOf(key.Key) + sizeof(int) + PayloadWriter.SizeOfLength(paths.Length);
        foreach (var path in paths)
            size += PayloadWriter.SizeOf(path);
        return size;
    }

    private static void Write(ref PayloadWriter writer, AwaitedKey key, string[] paths)
    {
        writer.Bytes(key.Key);
        writer.Int32(key.Registrations);
        writer.Length(paths.Length);
        foreach (var path in paths)
            writer.String(path);
    }

    private AwaitedKey ReadAwaitedKey(ref PayloadReader reader)
    {
        var key = reader.Bytes();
        var registrations = reader.Int32();
        var connections = new IActorRef[reader.Count()];
        for (var i = 0; i < connections.Length; i++)
            connections[i] = ReadRef(ref reader);
        return new AwaitedKey(key, registrations, connections);
    }

    private static int SizeOf(Entry entry) =>
        PayloadWriter.SizeOf(entry.Key) + sizeof(int) + PayloadWriter.SizeOfNullable(entry.Value);

    private static void Write(ref PayloadWriter writer, Entry entry)
    {
        writer.Bytes(entry.Key);
        writer.Int32(entry.ValueBytes);
        writer.NullableBytes(entry.Value);
    }

    private static Entry ReadEntry(ref PayloadReader reader) => new(reader.Bytes(), reader.Int32(), reader.NullableBytes());

    private static int SizeOf(QueueInfo queue) => PayloadWriter.SizeOf(queue.Name) + sizeof(int);

    private static void Write(ref PayloadWriter writer, QueueInfo queue)
    {
        writer.Bytes(queue.Name);
        writer.Int32(queue.Items);
    }

    private static QueueInfo ReadQueueInfo(ref PayloadReader reader) => new(reader.Bytes(), reader.Int32());

    // ---- Queries: the QueryType byte, then the fields ----

    private static int SizeOf(IReadOnlyList<Query> queries)
    {
        var size = PayloadWriter.SizeOfLength(queries.Count);
        for (var i = 0; i < queries.Count; i++)
            size += SizeOf(queries[i]);
        return size;
    }

    private static int SizeOf(Query query) => 1 + query switch
    {
        Query.Set q => PayloadWriter.SizeOf(q.Key) + PayloadWriter.SizeOf(q.Value),
        Query.CompareSet q => PayloadWriter.SizeOf(q.Key) + PayloadWriter.SizeOf(q.Expected) + PayloadWriter.SizeOf(q.Desired),
        Query.Get q => PayloadWriter.SizeOf(q.Key),
        Query.Add q => PayloadWriter.SizeOf(q.Key) + sizeof(long),
        Query.Check q => PayloadWriter.SizeOf(q.Keys),
        Query.Wait q => PayloadWriter.SizeOf(q.Keys),
        Query.GetNumKeys or Query.CancelWait or Query.ListKeys => 0,
        Query.DeleteKey q => PayloadWriter.SizeOf(q.Key),
        Query.Append q => PayloadWriter.SizeOf(q.Key) + PayloadWriter.SizeOf(q.Value),
        Query.MultiGet q => PayloadWriter.SizeOf(q.Keys),
        Query.MultiSet q => SizeOf(q.Pairs),
        Query.Ping => sizeof(uint),
        Query.QueuePush q => PayloadWriter.SizeOf(q.Key) + PayloadWriter.SizeOf(q.Value),
        Query.QueuePop q => PayloadWriter.SizeOf(q.Key),
        Query.QueueLen q => PayloadWriter.SizeOf(q.Key),
        _ => throw Unsupported(query),
    };

    private static int SizeOf(IReadOnlyList<KeyValuePair<byte[], byte[]>> pairs)
    {
        var size = PayloadWriter.SizeOfLength(pairs.Count);
        for (var i = 0; i < pairs.Count; i++)
            size += PayloadWriter.SizeOf(pairs[i].Key) + PayloadWriter.SizeOf(pairs[i].Value);
        return size;
    }

    private static void Write(ref PayloadWriter writer, IReadOnlyList<Query> queries)
    {
        writer.Length(queries.Count);
        for (var i = 0; i < queries.Count; i++)
            Write(ref writer, queries[i]);
    }

    private static void Write(ref PayloadWriter writer, Query query)
    {
        writer.Byte((byte)query.Type);
        switch (query)
        {
            case Query.Set q:
                writer.Bytes(q.Key);
                writer.Bytes(q.Value);
                break;
            case Query.CompareSet q:
                writer.Bytes(q.Key);
                writer.Bytes(q.Expected);
                writer.Bytes(q.Desired);
                break;
            case Query.Get q:
                writer.Bytes(q.Key);
                break;
            case Query.Add q:
                writer.Bytes(q.Key);
                writer.Int64(q.Delta);
                break;
            case Query.Check q:
                writer.Bytes(q.Keys);
                break;
            case Query.Wait q:
                writer.Bytes(q.Keys);
                break;
            case Query.DeleteKey q:
                writer.Bytes(q.Key);
                break;
            case Query.Append q:
                writer.Bytes(q.Key);
                writer.Bytes(q.Value);
                break;
            case Query.MultiGet q:
                writer.Bytes(q.Keys);
                break;
            case Query.MultiSet q:
                writer.Length(q.Pairs.Count);
                for (var i = 0; i < q.Pairs.Count; i++)
                {
                    writer.Bytes(q.Pairs[i].Key);
                    writer.Bytes(q.Pairs[i].Value);
                }
                break;
            case Query.Ping q:
                writer.UInt32(q.Nonce);
                break;
            case Query.QueuePush q:
                writer.Bytes(q.Key);
                writer.Bytes(q.Value);
                break;
            case Query.QueuePop q:
                writer.Bytes(q.Key);
                break;
            case Query.QueueLen q:
                writer.Bytes(q.Key);
                break;
            // GETNUMKEYS, CANCEL_WAIT, LIST_KEYS: the type byte is all (SizeOf has rejected unknown variants).
        }
    }

    private static Query[] ReadQueries(ref PayloadReader reader)
    {
        var queries = new Query[reader.Count()];
        for (var i = 0; i < queries.Length; i++)
            queries[i] = ReadQuery(ref reader);
        return queries;
    }

    private static Query ReadQuery(ref PayloadReader reader)
    {
        var type = reader.Byte();
        return (QueryType)type switch
        {
            QueryType.Set => new Query.Set(reader.Bytes(), reader.Bytes()),
            QueryType.CompareSet => new Query.CompareSet(reader.Bytes(), reader.Bytes(), reader.Bytes()),
            QueryType.Get => new Query.Get(reader.Bytes()),
            QueryType.Add => new Query.Add(reader.Bytes(), reader.Int64()),
            QueryType.Check => new Query.Check(reader.BytesList()),
            QueryType.Wait => new Query.Wait(reader.BytesList()),
            QueryType.GetNumKeys => Query.GetNumKeys.Instance,
            QueryType.DeleteKey => new Query.DeleteKey(reader.Bytes()),
            QueryType.Append => new Query.Append(reader.Bytes(), reader.Bytes()),
            QueryType.MultiGet => new Query.MultiGet(reader.BytesList()),
            QueryType.MultiSet => new Query.MultiSet(ReadPairs(ref reader)),
            QueryType.CancelWait => Query.CancelWait.Instance,
            QueryType.Ping => new Query.Ping(reader.UInt32()),
            QueryType.QueuePush => new Query.QueuePush(reader.Bytes(), reader.Bytes()),
            QueryType.QueuePop => new Query.QueuePop(reader.Bytes()),
            QueryType.QueueLen => new Query.QueueLen(reader.Bytes()),
            QueryType.ListKeys => Query.ListKeys.Instance,
            _ => throw reader.Malformed($"query tag {type} is unknown"),
        };
    }

    private static KeyValuePair<byte[], byte[]>[] ReadPairs(ref PayloadReader reader)
    {
        var pairs = new KeyValuePair<byte[], byte[]>[reader.Count()];
        for (var i = 0; i < pairs.Length; i++)
            pairs[i] = new(reader.Bytes(), reader.Bytes());
        return pairs;
    }

    // ---- Replies: a tag byte, then the fields ----

    private static int SizeOf(IReadOnlyList<Reply> replies)
    {
        var size = PayloadWriter.SizeOfLength(replies.Count);
        for (var i = 0; i < replies.Count; i++)
            size += SizeOf(replies[i]);
        return size;
    }

    private static int SizeOf(Reply reply) => 1 + reply switch
    {
        Reply.Bytes r => PayloadWriter.SizeOf(r.Value),
        Reply.Integer => sizeof(long),
        Reply.CheckResult or Reply.StopWaiting or Reply.WaitCanceled or Reply.WaitPending => 0,
        Reply.Pong => sizeof(uint),
        Reply.MultiBytes r => PayloadWriter.SizeOf(r.Values),
        Reply.QueueItem r => sizeof(long) + PayloadWriter.SizeOfNullable(r.Value),
        Reply.KeyList r => PayloadWriter.SizeOf(r.Keys),
        _ => throw Unsupported(reply),
    };

    private static void Write(ref PayloadWriter writer, IReadOnlyList<Reply> replies)
    {
        writer.Length(replies.Count);
        for (var i = 0; i < replies.Count; i++)
            Write(ref writer, replies[i]);
    }

    private static void Write(ref PayloadWriter writer, Reply reply)
    {
        switch (reply)
        {
            case Reply.Bytes r:
                writer.Byte(BytesTag);
                writer.Bytes(r.Value);
                break;
            case Reply.Integer r:
                writer.Byte(IntegerTag);
                writer.Int64(r.Value);
                break;
            case Reply.CheckResult r:
                writer.Byte(r.Ready ? ReadyTag : NotReadyTag);
                break;
            case Reply.StopWaiting:
                writer.Byte(StopWaitingTag);
                break;
            case Reply.WaitCanceled:
                writer.Byte(WaitCanceledTag);
                break;
            case Reply.WaitPending:
                writer.Byte(WaitPendingTag);
                break;
            case Reply.Pong r:
                writer.Byte(PongTag);
                writer.UInt32(r.Nonce);
                break;
            case Reply.MultiBytes r:
                writer.Byte(MultiBytesTag);
                writer.Bytes(r.Values);
                break;
            case Reply.QueueItem r:
                writer.Byte(QueueItemTag);
                writer.Int64(r.LengthBeforePop);
                writer.NullableBytes(r.Value);
                break;
            case Reply.KeyList r:
                writer.Byte(KeyListTag);
                writer.Bytes(r.Keys);
                break;
        }
    }

    private static Reply[] ReadReplies(ref PayloadReader reader)
    {
        var replies = new Reply[reader.Count()];
        for (var i = 0; i < replies.Length; i++)
            replies[i] = ReadReply(ref reader);
        return replies;
    }

    private static Reply ReadReply(ref PayloadReader reader)
    {
        var tag = reader.Byte();
        return tag switch
        {
            BytesTag => new Reply.Bytes(reader.Bytes()),
            IntegerTag => new Reply.Integer(reader.Int64()),
            ReadyTag => Reply.CheckResult.ReadyReply,
            NotReadyTag => Reply.CheckResult.NotReadyReply,
            StopWaitingTag => Reply.StopWaiting.Instance,
            WaitCanceledTag => Reply.WaitCanceled.Instance,
            WaitPendingTag => Reply.WaitPending.Instance,
            PongTag => new Reply.Pong(reader.UInt32()),
            MultiBytesTag => new Reply.MultiBytes(reader.BytesList()),
            QueueItemTag => new Reply.QueueItem(reader.Int64(), reader.NullableBytes()),
            KeyListTag => new Reply.KeyList(reader.BytesList()),
            _ => throw reader.Malformed($"reply tag {tag} is unknown"),
        };
    }
}
