using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using TcpStore.Protocol;

namespace TcpStore.Akka.Client;

/// <summary>
/// An async client of a TCPStore server (TcpStore.Akka, or PyTorch's libuv or classic server) with the semantics of
/// PyTorch 2.10's <c>c10d::TCPStore</c> client (docs/PROTOCOL.md §5): the same wire sequences, the <c>/</c> key prefix,
/// WAIT-then-GET, CANCEL_WAIT on timeout, the same connect loop with exponential backoff and jitter.
/// </summary>
/// <remarks>
/// <para>One TCP connection per client. Calls are safe from many threads and run one at a time (one request in flight,
/// like PyTorch's per-object mutex); a call blocked in a wait holds the connection. Use <see cref="Clone"/> for an
/// independent connection.</para>
/// <para>SET, APPEND, MULTI_SET and QUEUE_PUSH have no reply (as in PyTorch): their calls complete once the request is
/// sent. Later calls on this client see the write; other connections are sure to see it after any call with a reply on
/// this client, or by waiting for the key.</para>
/// <para>Keys are strings (UTF-8 on the wire, prefixed with <see cref="TcpStoreClientOptions.KeyPrefix"/>); values are
/// bytes, with string (UTF-8) conveniences.</para>
/// <para>Failures: a dropped connection fails the call with <see cref="TcpStoreConnectionException"/> and marks the
/// client broken; later calls throw it again unless <see cref="TcpStoreClientOptions.Reconnect"/> is set, in which case
/// the next call reconnects first. Canceling a call through its <see cref="CancellationToken"/> while waiting for keys
/// cancels the wait on the server (CANCEL_WAIT) and keeps the connection; canceling any other call once its request is
/// on the wire leaves the stream in an unknown state, so the connection is then treated as broken.</para>
/// </remarks>
public sealed class TcpStoreClient : IAsyncDisposable, IDisposable
{
    /// <summary>How long the CANCEL_WAIT exchange after a timed-out wait may take before the connection counts as broken.</summary>
    private static readonly TimeSpan CancelWaitGrace = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly byte[] _prefix;
    private StoreConnection? _connection;
    private Exception? _brokenBy;
    private volatile bool _disposed;

    /// <summary>A client that connects on its first call (or on <see cref="ConnectAsync(CancellationToken)"/>).</summary>
    public TcpStoreClient(TcpStoreClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _prefix = Encoding.UTF8.GetBytes(options.KeyPrefix);
    }

    /// <summary>A client of <paramref name="host"/>:<paramref name="port"/> with PyTorch's defaults.</summary>
    public TcpStoreClient(string host, int port)
        : this(new TcpStoreClientOptions { Host = host, Port = port })
    {
    }

    /// <summary>The options this client was created with.</summary>
    public TcpStoreClientOptions Options { get; }

    /// <summary>Whether the client holds a working connection right now.</summary>
    public bool IsConnected => _connection is not null && !_disposed;

    /// <summary>Creates a client and connects it (VALIDATE + PING, retrying until the connect timeout).</summary>
    public static async Task<TcpStoreClient> ConnectAsync(
        TcpStoreClientOptions options, CancellationToken cancellationToken = default)
    {
        var client = new TcpStoreClient(options);
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Creates a client of <paramref name="host"/>:<paramref name="port"/> with PyTorch's defaults and connects it.</summary>
    public static Task<TcpStoreClient> ConnectAsync(string host, int port, CancellationToken cancellationToken = default) =>
        ConnectAsync(new TcpStoreClientOptions { Host = host, Port = port }, cancellationToken);

    /// <summary>
    /// Connects now if not connected yet (or, with <see cref="TcpStoreClientOptions.Reconnect"/>, after the connection
    /// broke): TCP connect, VALIDATE, PING, retried with exponential backoff and jitter until the connect timeout.
    /// </summary>
    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        RunAsync(static (_, _) => Task.FromResult(true), cancellationToken);

    /// <summary>A new, unconnected client with the same options: an independent connection (PyTorch: <c>clone()</c>).</summary>
    public TcpStoreClient Clone() => new(Options);

    // -----------------------------------------------------------------------------------------------------------
    // Key/value operations
    // -----------------------------------------------------------------------------------------------------------

    /// <summary>SET: stores <paramref name="value"/> under <paramref name="key"/> (wakes its waiters).</summary>
    public Task SetAsync(string key, byte[] value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var query = new Query.Set(Wire(key), value);
        return RunAsync((c, ct) => SendOnlyAsync(c, query, ct), cancellationToken);
    }

    /// <summary>SET with a UTF-8 string value.</summary>
    public Task SetAsync(string key, string value, CancellationToken cancellationToken = default) =>
        SetAsync(key, Utf8(value), cancellationToken);

    /// <summary>
    /// GET as PyTorch does it: waits (up to <paramref name="timeout"/>, default <see cref="TcpStoreClientOptions.Timeout"/>)
    /// for the key to exist, then reads it.
    /// </summary>
    /// <exception cref="TcpStoreTimeoutException">The key did not appear in time.</exception>
    public Task<byte[]> GetAsync(string key, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wireKey = Wire(key);
        var limit = TimeoutOrDefault(timeout);
        return RunAsync(
            async (c, ct) =>
            {
                await WaitCoreAsync(c, [wireKey], limit, ct).ConfigureAwait(false);
                return await GetCoreAsync(c, wireKey, ct).ConfigureAwait(false);
            },
            cancellationToken);
    }

    /// <summary>GET of a UTF-8 string value (waits first, like <see cref="GetAsync(string, TimeSpan?, CancellationToken)"/>).</summary>
    public async Task<string> GetStringAsync(
        string key, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(await GetAsync(key, timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// A non-blocking read (not in PyTorch's client): CHECK, then GET if the key exists; null if it does not.
    /// </summary>
    public Task<byte[]?> TryGetAsync(string key, CancellationToken cancellationToken = default)
    {
        var wireKey = Wire(key);
        return RunAsync<byte[]?>(
            async (c, ct) =>
            {
                if (!await CheckCoreAsync(c, [wireKey], ct).ConfigureAwait(false)) return null;
                return await GetCoreAsync(c, wireKey, ct).ConfigureAwait(false);
            },
            cancellationToken);
    }

    /// <summary>ADD: adds <paramref name="delta"/> to the key's integer value (a missing key counts as 0); returns the new value.</summary>
    public Task<long> AddAsync(string key, long delta, CancellationToken cancellationToken = default)
    {
        var query = new Query.Add(Wire(key), delta);
        return RunAsync(
            async (c, ct) => Expect<Reply.Integer>(await RequestAsync(c, query, ct).ConfigureAwait(false)).Value,
            cancellationToken);
    }

    /// <summary>
    /// COMPARE_SET: replaces the value with <paramref name="desired"/> iff it equals <paramref name="expected"/> (a missing
    /// key with an empty <paramref name="expected"/> is created). Returns the value now stored; for a missing key and a
    /// non-empty <paramref name="expected"/> the server stores nothing and answers <paramref name="expected"/>.
    /// </summary>
    public Task<byte[]> CompareSetAsync(
        string key, byte[] expected, byte[] desired, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(desired);
        var query = new Query.CompareSet(Wire(key), expected, desired);
        return RunAsync(
            async (c, ct) => Expect<Reply.Bytes>(await RequestAsync(c, query, ct).ConfigureAwait(false)).Value,
            cancellationToken);
    }

    /// <summary>COMPARE_SET with UTF-8 strings.</summary>
    public async Task<string> CompareSetAsync(
        string key, string expected, string desired, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(
            await CompareSetAsync(key, Utf8(expected), Utf8(desired), cancellationToken).ConfigureAwait(false));

    /// <summary>CHECK: whether every key exists (non-blocking). An empty list is ready.</summary>
    public Task<bool> CheckAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        var wireKeys = WireAll(keys);
        return RunAsync((c, ct) => CheckCoreAsync(c, wireKeys, ct), cancellationToken);
    }

    /// <summary>CHECK of one key.</summary>
    public Task<bool> CheckAsync(string key, CancellationToken cancellationToken = default) =>
        CheckAsync([key], cancellationToken);

    /// <summary>
    /// WAIT: returns when every key exists. On timeout (default <see cref="TcpStoreClientOptions.Timeout"/>) it cancels the
    /// wait on the server and throws <see cref="TcpStoreTimeoutException"/> naming the keys; the connection stays usable.
    /// Canceling <paramref name="cancellationToken"/> cancels the wait the same way, then throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task WaitAsync(
        IReadOnlyList<string> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wireKeys = WireAll(keys);
        var limit = TimeoutOrDefault(timeout);
        return RunAsync(
            async (c, ct) =>
            {
                await WaitCoreAsync(c, wireKeys, limit, ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>WAIT for one key.</summary>
    public Task WaitAsync(string key, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitAsync([key], timeout, cancellationToken);

    /// <summary>
    /// BARRIER (PyTorch 2.12's <c>store.barrier(key, world_size, timeout)</c>, docs/PROTOCOL.md §2.20): counts this
    /// arrival in <paramref name="key"/> and returns once <paramref name="worldSize"/> arrivals have been counted there.
    /// A key is used for one barrier: later arrivals at a released key return at once. On timeout (default
    /// <see cref="TcpStoreClientOptions.Timeout"/>) it cancels the wait on the server and throws
    /// <see cref="TcpStoreTimeoutException"/> ("barrier timeout after …ms, key: …"); the arrival stays counted and the
    /// connection stays usable. Servers older than PyTorch 2.12 do not know BARRIER: they close the connection, and
    /// the call throws <see cref="TcpStoreConnectionException"/>.
    /// </summary>
    public Task BarrierAsync(string key, long worldSize, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wireKey = Wire(key);
        var limit = TimeoutOrDefault(timeout);
        return RunAsync(
            async (c, ct) =>
            {
                await AwaitStopWaitingAsync(c, new Query.Barrier(wireKey, worldSize), limit,
                    () => TcpStoreTimeoutException.Barrier(key, Encoding.UTF8.GetString(wireKey), limit), ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>DELETE_KEY: true if the key existed. Waiters are not woken.</summary>
    public Task<bool> DeleteKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        var query = new Query.DeleteKey(Wire(key));
        return RunAsync(
            async (c, ct) => Expect<Reply.Integer>(await RequestAsync(c, query, ct).ConfigureAwait(false)).Value == 1,
            cancellationToken);
    }

    /// <summary>APPEND: concatenates <paramref name="value"/> to the key's value, creating the key if needed.</summary>
    public Task AppendAsync(string key, byte[] value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var query = new Query.Append(Wire(key), value);
        return RunAsync((c, ct) => SendOnlyAsync(c, query, ct), cancellationToken);
    }

    /// <summary>APPEND of a UTF-8 string.</summary>
    public Task AppendAsync(string key, string value, CancellationToken cancellationToken = default) =>
        AppendAsync(key, Utf8(value), cancellationToken);

    /// <summary>MULTI_GET as PyTorch does it: waits for every key (timeout as in <see cref="WaitAsync(IReadOnlyList{string}, TimeSpan?, CancellationToken)"/>), then reads them in order.</summary>
    public Task<IReadOnlyList<byte[]>> MultiGetAsync(
        IReadOnlyList<string> keys, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wireKeys = WireAll(keys);
        var limit = TimeoutOrDefault(timeout);
        return RunAsync<IReadOnlyList<byte[]>>(
            async (c, ct) =>
            {
                await WaitCoreAsync(c, wireKeys, limit, ct).ConfigureAwait(false);
                var reply = await RequestAsync(c, new Query.MultiGet(wireKeys), ct).ConfigureAwait(false);
                return Expect<Reply.MultiBytes>(reply).Values;
            },
            cancellationToken);
    }

    /// <summary>MULTI_SET: stores every key/value pair in one request.</summary>
    public Task MultiSetAsync(
        IReadOnlyList<string> keys, IReadOnlyList<byte[]> values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (keys.Count != values.Count)
            throw new ArgumentException($"multiSet needs as many values ({values.Count}) as keys ({keys.Count}).", nameof(values));
        var pairs = new KeyValuePair<byte[], byte[]>[keys.Count];
        for (var i = 0; i < pairs.Length; i++)
            pairs[i] = new(Wire(keys[i]), values[i] ?? throw new ArgumentNullException(nameof(values)));
        var query = new Query.MultiSet(pairs);
        return RunAsync((c, ct) => SendOnlyAsync(c, query, ct), cancellationToken);
    }

    /// <summary>MULTI_SET from a sequence of pairs.</summary>
    public Task MultiSetAsync(
        IEnumerable<KeyValuePair<string, byte[]>> pairs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var list = pairs.ToList();
        return MultiSetAsync(list.ConvertAll(p => p.Key), list.ConvertAll(p => p.Value), cancellationToken);
    }

    /// <summary>GETNUMKEYS: the number of keys the server holds, of every prefix (PyTorch's <c>init/</c> included).</summary>
    public Task<long> GetNumKeysAsync(CancellationToken cancellationToken = default) =>
        RunAsync(
            async (c, ct) =>
                Expect<Reply.Integer>(await RequestAsync(c, Query.GetNumKeys.Instance, ct).ConfigureAwait(false)).Value,
            cancellationToken);

    /// <summary>
    /// LIST_KEYS: the keys that start with <see cref="TcpStoreClientOptions.KeyPrefix"/>, without it (PyTorch keeps the
    /// <c>/</c> keys and strips the <c>/</c>, so <c>init/</c> is hidden). With an empty prefix: every key.
    /// </summary>
    public Task<IReadOnlyList<string>> ListKeysAsync(CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<string>>(
            async (c, ct) =>
            {
                var reply = await RequestAsync(c, Query.ListKeys.Instance, ct).ConfigureAwait(false);
                var keys = new List<string>();
                foreach (var raw in Expect<Reply.KeyList>(reply).Keys)
                {
                    if (raw.AsSpan().StartsWith(_prefix))
                        keys.Add(Encoding.UTF8.GetString(raw.AsSpan(_prefix.Length)));
                }

                return keys;
            },
            cancellationToken);

    // -----------------------------------------------------------------------------------------------------------
    // Queues (PyTorch's libuv server and ours; PyTorch's classic server closes the connection)
    // -----------------------------------------------------------------------------------------------------------

    /// <summary>QUEUE_PUSH: appends <paramref name="value"/> to the queue (wakes one waiter).</summary>
    public Task QueuePushAsync(string key, byte[] value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var query = new Query.QueuePush(Wire(key), value);
        return RunAsync((c, ct) => SendOnlyAsync(c, query, ct), cancellationToken);
    }

    /// <summary>QUEUE_PUSH of a UTF-8 string.</summary>
    public Task QueuePushAsync(string key, string value, CancellationToken cancellationToken = default) =>
        QueuePushAsync(key, Utf8(value), cancellationToken);

    /// <summary>
    /// QUEUE_POP: takes the queue's first item. With <paramref name="block"/> (the default) it first waits for the queue
    /// like <see cref="WaitAsync(string, TimeSpan?, CancellationToken)"/>; either way an empty queue at pop time throws
    /// <see cref="TcpStoreQueueEmptyException"/> (another client may have taken the item first).
    /// </summary>
    public Task<byte[]> QueuePopAsync(
        string key, bool block = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wireKey = Wire(key);
        var limit = TimeoutOrDefault(timeout);
        return RunAsync(
            async (c, ct) =>
            {
                if (block) await WaitCoreAsync(c, [wireKey], limit, ct).ConfigureAwait(false);
                var reply = Expect<Reply.QueueItem>(
                    await RequestAsync(c, new Query.QueuePop(wireKey), ct).ConfigureAwait(false));
                if (reply.LengthBeforePop <= 0 || reply.Value is null)
                    throw new TcpStoreQueueEmptyException(Encoding.UTF8.GetString(wireKey));
                return reply.Value;
            },
            cancellationToken);
    }

    /// <summary>QUEUE_LEN: the number of items in the queue (0 for an unknown queue).</summary>
    public Task<long> QueueLenAsync(string key, CancellationToken cancellationToken = default)
    {
        var query = new Query.QueueLen(Wire(key));
        return RunAsync(
            async (c, ct) => Expect<Reply.Integer>(await RequestAsync(c, query, ct).ConfigureAwait(false)).Value,
            cancellationToken);
    }

    /// <summary>PING: a round trip with a nonce the server must echo; returns the round-trip time.</summary>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default) =>
        RunAsync(
            async (c, ct) =>
            {
                var nonce = (uint)Random.Shared.Next();
                var started = Stopwatch.GetTimestamp();
                await PingCoreAsync(c, nonce, ct).ConfigureAwait(false);
                return Stopwatch.GetElapsedTime(started);
            },
            cancellationToken);

    // -----------------------------------------------------------------------------------------------------------
    // Workers (the init/ key of torch.distributed)
    // -----------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Counts this process as a worker, as a PyTorch rank with <c>world_size</c> and <c>wait_for_workers=True</c> does on
    /// construction: ADD of the unprefixed key <c>init/</c>. Returns the number of workers counted so far.
    /// </summary>
    public Task<long> RegisterWorkerAsync(CancellationToken cancellationToken = default)
    {
        var query = new Query.Add(InitKey, 1);
        return RunAsync(
            async (c, ct) => Expect<Reply.Integer>(await RequestAsync(c, query, ct).ConfigureAwait(false)).Value,
            cancellationToken);
    }

    /// <summary>
    /// Waits until <paramref name="worldSize"/> workers have registered (polls <c>init/</c> every 10 ms, like the PyTorch
    /// store that owns the server).
    /// </summary>
    /// <exception cref="TcpStoreTimeoutException">Not all workers joined within <paramref name="timeout"/>.</exception>
    public async Task WaitForWorkersAsync(
        long worldSize, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        var limit = TimeoutOrDefault(timeout);
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var joined = await RunAsync(
                async (c, ct) =>
                {
                    if (!await CheckCoreAsync(c, [InitKey], ct).ConfigureAwait(false)) return 0L;
                    var text = Encoding.ASCII.GetString(await GetCoreAsync(c, InitKey, ct).ConfigureAwait(false));
                    return long.TryParse(text, out var n) ? n : 0L;
                },
                cancellationToken).ConfigureAwait(false);
            if (joined >= worldSize) return;
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (limit != Timeout.InfiniteTimeSpan && elapsed > limit)
                throw new TcpStoreException(
                    $"Timed out after {(long)limit.TotalSeconds} seconds waiting for clients. {joined}/{worldSize} clients joined.");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private static readonly byte[] InitKey = "init/"u8.ToArray();

    // -----------------------------------------------------------------------------------------------------------
    // Lifetime
    // -----------------------------------------------------------------------------------------------------------

    /// <summary>Closes the connection. Calls in flight fail; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        Interlocked.Exchange(ref _connection, null)?.Dispose();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"TcpStoreClient({Options.Host}:{Options.Port})";

    // -----------------------------------------------------------------------------------------------------------
    // The request machinery
    // -----------------------------------------------------------------------------------------------------------

    private async Task<T> RunAsync<T>(Func<StoreConnection, CancellationToken, Task<T>> operation, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connection = _connection ?? await ConnectLockedAsync(ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            try
            {
                return await operation(connection, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsClean(e))
            {
                throw;
            }
            catch (OperationCanceledException e) when (ct.IsCancellationRequested)
            {
                Break(connection, new TcpStoreConnectionException(
                    "A previous call was canceled in the middle of a request; the connection was closed.", e));
                throw;
            }
            catch (Exception e) when (_disposed)
            {
                throw new ObjectDisposedException(ToString(), e);
            }
            catch (Exception e)
            {
                var failure = Translate(e);
                Break(connection, failure);
                if (ReferenceEquals(failure, e)) throw;
                throw failure;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static bool IsClean(Exception e) =>
        e is TcpStoreTimeoutException or TcpStoreQueueEmptyException or CanceledWaitException;

    private Exception Translate(Exception e) => e switch
    {
        TcpStoreException => e,
        InvalidDataException or InvalidCastException =>
            new TcpStoreProtocolException($"Unexpected reply from {Options.Host}:{Options.Port}: {e.Message}", e),
        EndOfStreamException or SocketException or IOException or ObjectDisposedException =>
            new TcpStoreConnectionException(
                $"Connection to {Options.Host}:{Options.Port} failed: {e.Message}", e),
        _ => e,
    };

    private void Break(StoreConnection connection, Exception reason)
    {
        _brokenBy = reason;
        if (Interlocked.CompareExchange(ref _connection, null, connection) == connection)
            connection.Dispose();
    }

    /// <summary>Connects under the gate: first connect, or reconnect after a failure when the options allow it.</summary>
    private async Task<StoreConnection> ConnectLockedAsync(CancellationToken ct)
    {
        if (_brokenBy is { } reason && !Options.Reconnect)
            throw new TcpStoreConnectionException(
                $"The connection to {Options.Host}:{Options.Port} is broken (reconnect is off): {reason.Message}", reason);

        var connection = await ConnectWithRetriesAsync(Options, ct).ConfigureAwait(false);
        if (_disposed)
        {
            connection.Dispose();
            throw new ObjectDisposedException(ToString());
        }

        _brokenBy = null;
        _connection = connection;
        return connection;
    }

    /// <summary>PyTorch's connect loop (docs/PROTOCOL.md §5.2): connect, VALIDATE, PING; on any network failure back off and retry.</summary>
    internal static async Task<StoreConnection> ConnectWithRetriesAsync(TcpStoreClientOptions options, CancellationToken ct)
    {
        var timeout = options.EffectiveConnectTimeout;
        var started = Stopwatch.GetTimestamp();
        var backoff = ExponentialBackoff.For(options);
        var nonce = (uint)Environment.ProcessId;
        Exception? last = null;
        while (true)
        {
            var remaining = timeout == Timeout.InfiniteTimeSpan
                ? Timeout.InfiniteTimeSpan
                : timeout - Stopwatch.GetElapsedTime(started);
            if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
                break;

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (remaining != Timeout.InfiniteTimeSpan) attempt.CancelAfter(remaining);
            StoreConnection? connection = null;
            try
            {
                connection = await StoreConnection.OpenAsync(options.Host, options.Port, attempt.Token).ConfigureAwait(false);
                var echo = await connection.ValidateAndPingAsync(nonce, attempt.Token).ConfigureAwait(false);
                if (echo != nonce)
                    throw new TcpStoreProtocolException(
                        $"Ping failed, invalid value returned from server. Expected: {nonce}, Got: {echo}");
                return connection;
            }
            catch (Exception e) when (!ct.IsCancellationRequested &&
                                      e is SocketException or IOException or TcpStoreProtocolException
                                          or OperationCanceledException or InvalidDataException)
            {
                connection?.Dispose();
                last = e;
            }
            catch
            {
                connection?.Dispose();
                throw;
            }

            var delay = backoff.Next();
            var left = timeout == Timeout.InfiniteTimeSpan ? delay : timeout - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero) break;
            await Task.Delay(delay < left ? delay : left, ct).ConfigureAwait(false);
        }

        throw new TcpStoreConnectionException(
            $"The client socket has timed out after {FormatSpan(timeout)} while trying to connect to " +
            $"({options.Host}, {options.Port}).{(last is null ? "" : " Last error: " + last.Message)}",
            last);
    }

    private static string FormatSpan(TimeSpan span) => $"{(long)span.TotalMilliseconds}ms";

    private static async Task<bool> SendOnlyAsync(StoreConnection c, Query query, CancellationToken ct)
    {
        await c.SendAsync(query, ct).ConfigureAwait(false);
        return true;
    }

    private static async Task<Reply> RequestAsync(StoreConnection c, Query query, CancellationToken ct)
    {
        await c.SendAsync(query, ct).ConfigureAwait(false);
        var count = query is Query.MultiGet multiGet ? multiGet.Keys.Count : 0;
        return await c.ReadReplyAsync(query.Type, count, ct).ConfigureAwait(false);
    }

    private static async Task<byte[]> GetCoreAsync(StoreConnection c, byte[] wireKey, CancellationToken ct) =>
        Expect<Reply.Bytes>(await RequestAsync(c, new Query.Get(wireKey), ct).ConfigureAwait(false)).Value;

    private static async Task<bool> CheckCoreAsync(StoreConnection c, byte[][] wireKeys, CancellationToken ct)
    {
        Reply reply;
        try
        {
            reply = await RequestAsync(c, new Query.Check(wireKeys), ct).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new TcpStoreProtocolException("ready or not_ready response expected", e);
        }

        return Expect<Reply.CheckResult>(reply).Ready;
    }

    private static async Task PingCoreAsync(StoreConnection c, uint nonce, CancellationToken ct)
    {
        var echo = Expect<Reply.Pong>(await RequestAsync(c, new Query.Ping(nonce), ct).ConfigureAwait(false)).Nonce;
        if (echo != nonce)
            throw new TcpStoreProtocolException(
                $"Ping failed, invalid value returned from server. Expected: {nonce}, Got: {echo}");
    }

    /// <summary>
    /// WAIT with PyTorch's timeout handling (docs/PROTOCOL.md §5.4): on timeout (or cancellation) send CANCEL_WAIT and read its <c>01</c>;
    /// a <c>00</c> first means the keys arrived just before the cancel, and it is still a timeout.
    /// </summary>
    private static Task WaitCoreAsync(StoreConnection c, byte[][] wireKeys, TimeSpan timeout, CancellationToken ct) =>
        AwaitStopWaitingAsync(c, new Query.Wait(wireKeys), timeout,
            () => new TcpStoreTimeoutException(Array.ConvertAll(wireKeys, k => Encoding.UTF8.GetString(k)), timeout), ct);

    /// <summary>Sends a WAIT or a BARRIER and reads its STOP_WAITING, canceling on the server after the timeout.</summary>
    private static async Task AwaitStopWaitingAsync(
        StoreConnection c, Query query, TimeSpan timeout, Func<TcpStoreTimeoutException> timedOut, CancellationToken ct)
    {
        await c.SendAsync(query, ct).ConfigureAwait(false);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout != Timeout.InfiniteTimeSpan) timer.CancelAfter(timeout);
        Reply reply;
        try
        {
            reply = await c.ReadReplyAsync(query.Type, 0, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested)
        {
            await CancelWaitAsync(c).ConfigureAwait(false);
            if (ct.IsCancellationRequested) throw new CanceledWaitException(ct);
            throw timedOut();
        }
        catch (InvalidDataException e)
        {
            throw new TcpStoreProtocolException("Stop_waiting response is expected", e);
        }

        Expect<Reply.StopWaiting>(reply);
    }

    private static async Task CancelWaitAsync(StoreConnection c)
    {
        using var grace = new CancellationTokenSource(CancelWaitGrace);
        try
        {
            await c.SendAsync(Query.CancelWait.Instance, grace.Token).ConfigureAwait(false);
            var reply = await c.ReadReplyAsync(QueryType.CancelWait, 0, grace.Token).ConfigureAwait(false);
            if (reply is Reply.StopWaiting) // the keys arrived just before the cancel: 00 then 01
                reply = await c.ReadReplyAsync(QueryType.CancelWait, 0, grace.Token).ConfigureAwait(false);
            if (reply is not Reply.WaitCanceled)
                throw new TcpStoreProtocolException("wait_canceled response expected after CANCEL_WAIT");
        }
        catch (OperationCanceledException e) when (grace.IsCancellationRequested)
        {
            throw new TcpStoreConnectionException(
                $"The server did not answer CANCEL_WAIT within {CancelWaitGrace.TotalSeconds:0} s.", e);
        }
        catch (InvalidDataException e)
        {
            throw new TcpStoreProtocolException("wait_canceled response expected after CANCEL_WAIT", e);
        }
    }

    private static T Expect<T>(Reply reply) where T : Reply =>
        reply as T ?? throw new TcpStoreProtocolException($"Expected a {typeof(T).Name} reply, got {reply.GetType().Name}.");

    private TimeSpan TimeoutOrDefault(TimeSpan? timeout)
    {
        var value = timeout ?? Options.Timeout;
        TcpStoreClientOptions.CheckTimeout(value, nameof(timeout));
        // CancelAfter takes at most uint.MaxValue - 1 ms; anything longer is as good as forever.
        return value.TotalMilliseconds >= uint.MaxValue - 1 ? Timeout.InfiniteTimeSpan : value;
    }

    private byte[] Wire(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var bytes = new byte[_prefix.Length + Encoding.UTF8.GetByteCount(key)];
        _prefix.CopyTo(bytes, 0);
        Encoding.UTF8.GetBytes(key, bytes.AsSpan(_prefix.Length));
        return bytes;
    }

    private byte[][] WireAll(IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var wire = new byte[keys.Count][];
        for (var i = 0; i < wire.Length; i++) wire[i] = Wire(keys[i]);
        return wire;
    }

    private static byte[] Utf8(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Encoding.UTF8.GetBytes(value);
    }

    /// <summary>A wait canceled by the caller whose CANCEL_WAIT exchange completed: the connection is intact.</summary>
    private sealed class CanceledWaitException(CancellationToken token)
        : OperationCanceledException("The wait was canceled; the server canceled it too (CANCEL_WAIT).", token);
}
