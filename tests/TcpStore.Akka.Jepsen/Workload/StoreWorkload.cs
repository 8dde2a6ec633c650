using System.Net.Sockets;
using System.Text;
using TcpStore.Akka.Jepsen.Harness;
using TcpStore.Akka.Jepsen.History;
using TcpStore.Protocol;

namespace TcpStore.Akka.Jepsen.Workload;

/// <summary>The workload's shape: how many clients, how fast, how long each key lives.</summary>
public sealed record WorkloadOptions
{
    /// <summary>Clients per node; the first <see cref="BoundClientsPerNode"/> of them never leave their node.</summary>
    public int ClientsPerNode { get; init; } = 3;

    /// <summary>
    /// Clients that stay on their node whatever happens (retrying it while it is paused or dead), so that a node
    /// that comes back is used at once — which is when a resumed old singleton would answer from stale state. The
    /// others move to another node when theirs fails, and come home on their next connection.
    /// </summary>
    public int BoundClientsPerNode { get; init; } = 2;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>How long a request may go unanswered before its outcome counts as unknown and the connection is dropped.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A WAIT's own timeout (then CANCEL_WAIT, as PyTorch's client does).</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan BarrierTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A client's mean pause between operations (uniform in [0, 2×mean]): bounds the history and the load.</summary>
    public TimeSpan MeanThinkTime { get; init; } = TimeSpan.FromMilliseconds(30);

    /// <summary>Operations on one register, counter or queue key before its slot moves to a fresh key.</summary>
    public int OperationsPerKey { get; init; } = 60;

    public int RegisterSlots { get; init; } = 3;

    public int CounterSlots { get; init; } = 2;

    public int QueueSlots { get; init; } = 2;

    /// <summary>Ranks per rendezvous (each pipelines SET of its address and ADD of the count).</summary>
    public int RendezvousWorld { get; init; } = 4;

    public int BarrierWorld { get; init; } = 3;

    /// <summary>Mean operations on one connection before the client opens a new one (connection churn).</summary>
    public int OperationsPerConnection { get; init; } = 40;
}

/// <summary>
/// PyTorch-shaped clients on every node over a small key space, recording every operation in the history: pipelined
/// SET + ADD rendezvous (and the last rank's WAIT + MULTI_GET), WAIT then GET, COMPARE_SET chains, SET, GET, CHECK,
/// DELETE_KEY, APPEND, ADD counters, queues, BARRIER, MULTI_SET and pipelined bursts of writes. A client whose request
/// timed out or whose connection broke records the outcome as unknown and opens a new connection.
/// </summary>
public sealed class StoreWorkload(HistoryRecorder history, IReadOnlyList<(string Name, string Address)> nodes, int port, WorkloadOptions options, int seed)
    : IWorkloadSteering
{
    private readonly object _gate = new();
    private readonly HistoryRecorder _history = history;
    private readonly IReadOnlyList<(string Name, string Address)> _nodes = nodes;
    private readonly int _port = port;
    private readonly WorkloadOptions _options = options;
    private readonly int[] _registerGeneration = new int[options.RegisterSlots];
    private readonly int[] _registerUses = new int[options.RegisterSlots];
    private readonly int[] _counterGeneration = new int[options.CounterSlots];
    private readonly int[] _counterUses = new int[options.CounterSlots];
    private readonly int[] _queueGeneration = new int[options.QueueSlots];
    private readonly int[] _queueUses = new int[options.QueueSlots];
    private int _rendezvous;
    private int _rendezvousRank;
    private int _barrier;
    private int _barrierArrivals;
    private long _multiSetGroups;
    private volatile bool _writesPaused;
    private volatile string? _readOnlyNode;

    public WorkloadOptions Options => _options;

    /// <summary>
    /// While set, clients choose only reads (GET, CHECK, WAIT, MULTI_GET, QUEUE_LEN): the store idles as a rendezvous
    /// store does between a job's phases, with nothing waiting to be replicated.
    /// </summary>
    public bool WritesPaused
    {
        get => _writesPaused;
        set => _writesPaused = value;
    }

    /// <summary>While set, the clients connected to this node choose only reads (the others write as usual).</summary>
    public string? ReadOnlyNode
    {
        get => _readOnlyNode;
        set => _readOnlyNode = value;
    }

    /// <summary>Runs every client until <paramref name="stop"/>; each finishes its operation in progress (bounded by its timeouts).</summary>
    public Task RunAsync(CancellationToken stop)
    {
        var clients = new List<Task>();
        var id = 0;
        for (var node = 0; node < _nodes.Count; node++)
        {
            for (var i = 0; i < _options.ClientsPerNode; i++, id++)
            {
                var client = new Client(this, id, node, bound: i < _options.BoundClientsPerNode, new Random(seed * 7919 + id));
                clients.Add(Task.Run(() => client.RunAsync(stop), CancellationToken.None));
            }
        }
        return Task.WhenAll(clients);
    }

    private string Register(Random random) => Next(random, _registerGeneration, _registerUses, KeySpace.Register);

    private string Counter(Random random) => Next(random, _counterGeneration, _counterUses, KeySpace.Counter);

    private string Queue(Random random) => Next(random, _queueGeneration, _queueUses, KeySpace.Queue);

    /// <summary>A key of a random slot; the slot moves to a fresh generation after OperationsPerKey uses.</summary>
    private string Next(Random random, int[] generation, int[] uses, Func<int, int, string> name)
    {
        lock (_gate)
        {
            var slot = random.Next(generation.Length);
            if (++uses[slot] > _options.OperationsPerKey)
            {
                uses[slot] = 1;
                generation[slot]++;
            }
            return name(slot, generation[slot]);
        }
    }

    private (int Generation, int Rank) NextRank()
    {
        lock (_gate)
        {
            if (_rendezvousRank == _options.RendezvousWorld)
            {
                _rendezvous++;
                _rendezvousRank = 0;
            }
            return (_rendezvous, _rendezvousRank++);
        }
    }

    private int EarlierRendezvous(Random random)
    {
        lock (_gate) return Math.Max(0, _rendezvous - random.Next(3));
    }

    private int NextBarrier()
    {
        lock (_gate)
        {
            if (_barrierArrivals == _options.BarrierWorld)
            {
                _barrier++;
                _barrierArrivals = 0;
            }
            _barrierArrivals++;
            return _barrier;
        }
    }

    private long NextMultiSetGroup() => Interlocked.Increment(ref _multiSetGroups);

    private long EarlierMultiSetGroup(Random random) => Math.Max(1, Interlocked.Read(ref _multiSetGroups) - random.Next(5));

    private static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    private static string Text(byte[] bytes) => Encoding.ASCII.GetString(bytes);

    /// <summary>One request of a pipelined write: the query, and the operation it records (none for a PING acknowledgement).</summary>
    private sealed record Planned(Query Query, OpFunction? Function = null, string[]? Keys = null, string[]? Values = null, long Number = 0);

    private sealed class Client(StoreWorkload workload, int id, int home, bool bound, Random random)
    {
        private readonly HistoryRecorder _history = workload._history;
        private readonly WorkloadOptions _options = workload.Options;
        private WireConnection? _connection;
        private long _connectionId;
        private int _sequence;
        private int _node;
        private int _operationsLeft;
        private int _burst;
        private long _values;

        private string NodeName => workload._nodes[_node].Name;

        public async Task RunAsync(CancellationToken stop)
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (_connection is null && !await ConnectAsync(stop)) break;
                    bool intact;
                    try
                    {
                        intact = await RunOneAsync();
                    }
                    catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
                    {
                        intact = false;
                    }
                    if (!intact || --_operationsLeft <= 0) Disconnect();
                    var pause = random.NextDouble() * 2 * _options.MeanThinkTime.TotalMilliseconds;
                    await Task.Delay(TimeSpan.FromMilliseconds(pause), stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            finally
            {
                Disconnect();
            }
        }

        private async Task<bool> ConnectAsync(CancellationToken stop)
        {
            for (var attempt = 0; !stop.IsCancellationRequested; attempt++)
            {
                // Home first; a roaming client then tries the others in turn, a bound one only ever its own node.
                var target = bound ? home : (home + attempt) % workload._nodes.Count;
                try
                {
                    _connection = await WireConnection.OpenAsync(workload._nodes[target].Address, workload._port, _options.ConnectTimeout, stop);
                    _connectionId = _history.NewConnection();
                    _sequence = 0;
                    _burst = 0;
                    _node = target;
                    _operationsLeft = 1 + random.Next(2 * _options.OperationsPerConnection);
                    return true;
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException)
                {
                    if (stop.IsCancellationRequested) return false;
                    await Task.Delay(bound ? 100 : 250, stop);
                }
            }
            return false;
        }

        private void Disconnect()
        {
            _connection?.Dispose();
            _connection = null;
        }

        private string Value(string prefix = "") => $"{prefix}{id}.{++_values}";

        private Task<bool> RunOneAsync()
        {
            if (workload.WritesPaused || workload.ReadOnlyNode == NodeName)
            {
                return random.Next(6) switch
                {
                    0 => GetAsync(workload.Register(random)),
                    1 => CheckAsync(workload.Register(random)),
                    2 => WaitThenGetAsync(workload.Register(random)),
                    3 => GetAsync(workload.Counter(random)),
                    4 => ReadRendezvousAsync(),
                    _ => ReadMultiSetAsync(),
                };
            }

            var pick = random.Next(100);
            return pick switch
            {
                < 10 => GetAsync(workload.Register(random)),
                < 16 => SetAsync(workload.Register(random)),
                < 26 => CompareSetChainAsync(workload.Register(random)),
                < 28 => DeleteAsync(workload.Register(random)),
                < 31 => AppendAsync(workload.Register(random)),
                < 34 => CheckAsync(workload.Register(random)),
                < 38 => WaitThenGetAsync(workload.Register(random)),
                < 46 => AddAsync(workload.Counter(random)),
                < 50 => GetAsync(workload.Counter(random)),
                < 55 => PushAsync(workload.Queue(random)),
                < 60 => PopAsync(workload.Queue(random)),
                < 62 => LengthAsync(workload.Queue(random)),
                < 72 => RendezvousAsync(),
                < 76 => ReadRendezvousAsync(),
                < 79 => BarrierAsync(),
                < 87 => BurstAsync(),
                < 94 => MultiSetAsync(),
                _ => ReadMultiSetAsync(),
            };
        }

        // ----- single operations ------------------------------------------------------------------------------------

        private async Task<bool> GetAsync(string key) =>
            (await RunAsync([new Planned(new Query.Get(Bytes(key)), OpFunction.Get, [key])])).Intact;

        private async Task<bool> SetAsync(string key)
        {
            var value = Value();
            return (await RunAsync([new Planned(new Query.Set(Bytes(key), Bytes(value)), OpFunction.Set, [key], [value]), Ping])).Intact;
        }

        private async Task<bool> AppendAsync(string key)
        {
            var value = Value("+");
            return (await RunAsync([new Planned(new Query.Append(Bytes(key), Bytes(value)), OpFunction.Append, [key], [value]), Ping])).Intact;
        }

        private async Task<bool> DeleteAsync(string key) =>
            (await RunAsync([new Planned(new Query.DeleteKey(Bytes(key)), OpFunction.Delete, [key])])).Intact;

        private async Task<bool> CheckAsync(string key) =>
            (await RunAsync([new Planned(new Query.Check([Bytes(key)]), OpFunction.Check, [key])])).Intact;

        private async Task<bool> AddAsync(string key) =>
            (await RunAsync([new Planned(new Query.Add(Bytes(key), 1), OpFunction.Add, [key], Number: 1)])).Intact;

        private async Task<bool> PushAsync(string key)
        {
            var value = Value("i");
            return (await RunAsync([new Planned(new Query.QueuePush(Bytes(key), Bytes(value)), OpFunction.QueuePush, [key], [value]), Ping])).Intact;
        }

        private async Task<bool> PopAsync(string key) =>
            (await RunAsync([new Planned(new Query.QueuePop(Bytes(key)), OpFunction.QueuePop, [key])])).Intact;

        private async Task<bool> LengthAsync(string key) =>
            (await RunAsync([new Planned(new Query.QueueLen(Bytes(key)), OpFunction.QueueLen, [key])])).Intact;

        /// <summary>Read the current value, then COMPARE_SET it to a new one (a chain of CAS links across clients).</summary>
        private async Task<bool> CompareSetChainAsync(string key)
        {
            var (intact, read) = await RunAsync([new Planned(new Query.Get(Bytes(key)), OpFunction.Get, [key])]);
            if (!intact) return false;
            var current = read[0].Output![0];
            var desired = Value("v");
            return (await RunAsync([new Planned(new Query.CompareSet(Bytes(key), Bytes(current), Bytes(desired)),
                OpFunction.CompareSet, [key], [current, desired])])).Intact;
        }

        /// <summary>PyTorch's GET: WAIT for the key, then GET it.</summary>
        private async Task<bool> WaitThenGetAsync(string key)
        {
            var (intact, waited) = await AwaitAsync(new Query.Wait([Bytes(key)]), OpFunction.Wait, [key], 0, _options.WaitTimeout);
            if (!intact || waited.Outcome != OpOutcome.Ok) return intact;
            return await GetAsync(key);
        }

        /// <summary>
        /// A rank's rendezvous, as PyTorch pipelines it: SET its address and ADD the arrivals count in one write. The
        /// last rank to arrive then WAITs for every address and reads the whole rendezvous.
        /// </summary>
        private async Task<bool> RendezvousAsync()
        {
            var (generation, rank) = workload.NextRank();
            var address = KeySpace.RendezvousRank(generation, rank);
            var arrived = KeySpace.RendezvousArrived(generation);
            var value = Value("addr");
            var (intact, ops) = await RunAsync([
                new Planned(new Query.Set(Bytes(address), Bytes(value)), OpFunction.Set, [address], [value]),
                new Planned(new Query.Add(Bytes(arrived), 1), OpFunction.Add, [arrived], Number: 1)]);
            if (!intact || ops[1].OutputNumber != _options.RendezvousWorld) return intact;

            var ranks = Enumerable.Range(0, _options.RendezvousWorld).Select(r => KeySpace.RendezvousRank(generation, r)).ToArray();
            (intact, var waited) = await AwaitAsync(new Query.Wait(ranks.Select(Bytes).ToArray()), OpFunction.Wait, ranks, 0, _options.WaitTimeout);
            if (!intact) return false;
            return await ReadRendezvousAsync(generation);
        }

        private Task<bool> ReadRendezvousAsync() => ReadRendezvousAsync(workload.EarlierRendezvous(random));

        /// <summary>One atomic read of a whole rendezvous: the count and every rank's address.</summary>
        private async Task<bool> ReadRendezvousAsync(int generation)
        {
            string[] keys = [KeySpace.RendezvousArrived(generation),
                .. Enumerable.Range(0, _options.RendezvousWorld).Select(r => KeySpace.RendezvousRank(generation, r))];
            return (await RunAsync([new Planned(new Query.MultiGet(keys.Select(Bytes).ToArray()), OpFunction.MultiGet, keys)])).Intact;
        }

        private async Task<bool> BarrierAsync()
        {
            var key = KeySpace.Barrier(workload.NextBarrier());
            return (await AwaitAsync(new Query.Barrier(Bytes(key), _options.BarrierWorld), OpFunction.Barrier, [key],
                _options.BarrierWorld, _options.BarrierTimeout)).Intact;
        }

        /// <summary>Three writes of fresh write-once keys pipelined in one write, then a PING: what survives must be a prefix.</summary>
        private async Task<bool> BurstAsync()
        {
            var planned = new List<Planned>();
            for (var i = 0; i < 3; i++)
            {
                var key = KeySpace.Burst(_connectionId, _burst++);
                var value = Value("p");
                planned.Add(new Planned(new Query.Set(Bytes(key), Bytes(value)), OpFunction.Set, [key], [value]));
            }
            planned.Add(Ping);
            return (await RunAsync(planned)).Intact;
        }

        private async Task<bool> MultiSetAsync()
        {
            var group = workload.NextMultiSetGroup();
            var keys = Enumerable.Range(0, 3).Select(i => KeySpace.MultiSetGroup(group, i)).ToArray();
            var values = keys.Select(_ => Value("m")).ToArray();
            var pairs = keys.Zip(values, (k, v) => new KeyValuePair<byte[], byte[]>(Bytes(k), Bytes(v))).ToList();
            return (await RunAsync([new Planned(new Query.MultiSet(pairs), OpFunction.MultiSet, keys, values), Ping])).Intact;
        }

        private async Task<bool> ReadMultiSetAsync()
        {
            var group = workload.EarlierMultiSetGroup(random);
            var keys = Enumerable.Range(0, 3).Select(i => KeySpace.MultiSetGroup(group, i)).ToArray();
            return (await RunAsync([new Planned(new Query.MultiGet(keys.Select(Bytes).ToArray()), OpFunction.MultiGet, keys)])).Intact;
        }

        // ----- the machinery ----------------------------------------------------------------------------------------

        private static readonly Planned Ping = new(new Query.Ping(0x4A455053));

        /// <summary>
        /// Sends <paramref name="planned"/> in one write and reads the replies in order. Each reply completes its own
        /// operation and every operation without a reply sent before it (a reply on the connection covers them,
        /// docs/CLUSTER.md). On a timeout or a broken connection the operations not completed stay unknown.
        /// </summary>
        private async Task<(bool Intact, IReadOnlyList<Operation> Ops)> RunAsync(IReadOnlyList<Planned> planned)
        {
            var recorded = planned.Where(p => p.Function is not null).ToList();
            var ops = Invoke(recorded);
            var opOf = new Dictionary<Planned, Operation>(ReferenceEqualityComparer.Instance);
            for (var i = 0; i < recorded.Count; i++) opOf[recorded[i]] = ops[i];

            using var timeout = new CancellationTokenSource(_options.OperationTimeout);
            try
            {
                await _connection!.SendAsync(planned.Select(p => p.Query).ToList(), timeout.Token);
                var uncovered = new List<Operation>();
                foreach (var request in planned)
                {
                    opOf.TryGetValue(request, out var op);
                    if (!ReplyReader.HasReply(request.Query.Type))
                    {
                        uncovered.Add(op!);
                        continue;
                    }
                    var reply = await _connection.ReadAsync(request.Query.Type,
                        request.Query is Query.MultiGet multiGet ? multiGet.Keys.Count : 0, timeout.Token);
                    var at = _history.Now;
                    foreach (var covered in uncovered) covered.Succeed(at);
                    uncovered.Clear();
                    if (op is not null) Fill(op, reply, at);
                }
                return (true, ops);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException)
            {
                return (false, ops);
            }
        }

        /// <summary>
        /// WAIT or BARRIER with PyTorch's timeout handling: after <paramref name="timeout"/>, CANCEL_WAIT; a STOP_WAITING
        /// before the WAIT_CANCELED means it was satisfied after all. Canceled: the outcome is Fail (a BARRIER's arrival
        /// stays counted).
        /// </summary>
        private async Task<(bool Intact, Operation Op)> AwaitAsync(Query query, OpFunction function, string[] keys, long number, TimeSpan timeout)
        {
            var op = Invoke([new Planned(query, function, keys, Number: number)])[0];
            using var bound = new CancellationTokenSource(timeout + _options.OperationTimeout);
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(bound.Token);
            waiting.CancelAfter(timeout);
            try
            {
                await _connection!.SendAsync([query], bound.Token);
                try
                {
                    await _connection.ReadAsync(query.Type, 0, waiting.Token);
                    op.Succeed(_history.Now);
                    return (true, op);
                }
                catch (OperationCanceledException) when (waiting.IsCancellationRequested && !bound.IsCancellationRequested)
                {
                }

                await _connection.SendAsync([Query.CancelWait.Instance], bound.Token);
                var reply = await _connection.ReadAsync(QueryType.CancelWait, 0, bound.Token);
                if (reply is Reply.StopWaiting)
                {
                    op.Succeed(_history.Now);
                    reply = await _connection.ReadAsync(QueryType.CancelWait, 0, bound.Token);
                }
                if (reply is not Reply.WaitCanceled) throw new InvalidDataException($"expected WAIT_CANCELED, got {reply}");
                if (op.Outcome != OpOutcome.Ok)
                {
                    op.Outcome = OpOutcome.Fail;
                    op.Complete = _history.Now;
                }
                return (true, op);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException)
            {
                // Unknown, unless it was released before the connection broke on the cancel.
                return (false, op);
            }
        }

        private IReadOnlyList<Operation> Invoke(IReadOnlyList<Planned> planned) =>
            _history.Invoke(planned.Count, (opId, at, i) => new Operation
            {
                Id = opId, Client = id, Connection = _connectionId, Sequence = _sequence++, Node = NodeName,
                Function = planned[i].Function!.Value, Keys = planned[i].Keys!, Values = planned[i].Values ?? [],
                Number = planned[i].Number, Invoke = at,
            });

        private static void Fill(Operation op, Reply reply, long at)
        {
            switch (reply)
            {
                case Reply.Bytes bytes:
                    op.Output = [Text(bytes.Value)];
                    break;
                case Reply.Integer integer:
                    op.OutputNumber = integer.Value;
                    break;
                case Reply.CheckResult check:
                    op.OutputNumber = check.Ready ? 1 : 0;
                    break;
                case Reply.MultiBytes multi:
                    op.Output = multi.Values.Select(Text).ToArray();
                    break;
                case Reply.QueueItem item:
                    op.OutputNumber = item.LengthBeforePop;
                    op.Output = item.Value is null ? null : [Text(item.Value)];
                    break;
                default:
                    throw new InvalidDataException($"unexpected reply {reply} to {op}");
            }
            op.Succeed(at);
        }
    }
}
