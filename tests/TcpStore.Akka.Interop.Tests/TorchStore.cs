using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>An exception thrown by PyTorch's TCPStore, carried across the shim as text.</summary>
public sealed class TorchStoreException : Exception
{
    public TorchStoreException(string nativeMessage)
        : base(nativeMessage)
    {
        var colon = nativeMessage.IndexOf(": ", StringComparison.Ordinal);
        ErrorType = colon > 0 ? nativeMessage[..colon] : "";
        Detail = colon > 0 ? nativeMessage[(colon + 2)..] : nativeMessage;
    }

    /// <summary>The C++ exception type, e.g. <c>c10::DistStoreError</c>.</summary>
    public string ErrorType { get; }

    /// <summary>The exception's what(), without PyTorch's appended C++ backtrace.</summary>
    public string Detail { get; }
}

/// <summary>
/// One PyTorch 2.10 <c>c10d::TCPStore</c> object (one connection; for a server also the server itself), driven
/// through the native shim. Every call runs on its own thread under <see cref="CallDeadline"/>, so a call that
/// never returns fails the test instead of hanging the run. The object is freed by <see cref="Dispose"/>, or, if a
/// call is still running then, when that call returns.
/// </summary>
public sealed unsafe class TorchStore : IDisposable
{
    /// <summary>Longest any single native call may take before the test fails (the call is then abandoned).</summary>
    public static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(30);

    private readonly NativeShim.Functions _fn;
    private readonly object _gate = new();
    private nint _handle;
    private int _inFlight;
    private bool _disposed;

    private TorchStore(NativeShim shim, nint handle, string host)
    {
        _fn = shim.Fn;
        _handle = handle;
        Host = host;
        Port = _fn.Port(handle);
        IsLibUvBackend = _fn.IsLibUv(handle) != 0;
    }

    public string Host { get; }

    /// <summary>The port this store talks to (for a server started on port 0: the port it bound).</summary>
    public int Port { get; }

    /// <summary>The store's <c>usingLibUv_</c> flag.</summary>
    public bool IsLibUvBackend { get; }

    /// <summary>A PyTorch client (<c>isServer=false</c>). Connecting runs VALIDATE + PING (and ADD init/ if asked).</summary>
    public static Task<TorchStore> ConnectAsync(
        string host,
        int port,
        TimeSpan timeout,
        long? worldSize = null,
        bool waitForWorkers = false,
        bool useLibUv = true) =>
        OpenAsync(host, port, isServer: false, useLibUv, timeout, worldSize, waitForWorkers);

    /// <summary>A PyTorch server (<c>isServer=true</c>, port 0 = any free port) and its own client.</summary>
    public static Task<TorchStore> StartServerAsync(
        bool useLibUv,
        TimeSpan timeout,
        int port = 0,
        long? worldSize = null,
        bool waitForWorkers = false) =>
        OpenAsync("127.0.0.1", port, isServer: true, useLibUv, timeout, worldSize, waitForWorkers);

    private static Task<TorchStore> OpenAsync(
        string host,
        int port,
        bool isServer,
        bool useLibUv,
        TimeSpan timeout,
        long? worldSize,
        bool waitForWorkers)
    {
        var shim = NativeShim.Instance;
        return Guarded.Run(
            () =>
            {
                var hostBytes = Encoding.UTF8.GetBytes(host + "\0");
                nint handle = 0;
                byte* err = null;
                int rc;
                fixed (byte* h = hostBytes)
                {
                    rc = shim.Fn.Open(
                        h,
                        port,
                        isServer ? 1 : 0,
                        useLibUv ? 1 : 0,
                        (long)timeout.TotalMilliseconds,
                        worldSize ?? -1,
                        waitForWorkers ? 1 : 0,
                        &handle,
                        &err);
                }

                ThrowIfFailed(shim.Fn, rc, err);
                return new TorchStore(shim, handle, host);
            },
            timeout + CallDeadline,
            isServer ? "TCPStore(server)" : "TCPStore(client)");
    }

    public Task SetAsync(string key, string value) => SetAsync(Utf8(key), Utf8(value));

    public Task SetAsync(string key, byte[] value) => SetAsync(Utf8(key), value);

    public Task SetAsync(byte[] key, byte[] value) => KeyValueCall("set", KeyValueOp.Set, key, value);

    public Task<byte[]> GetAsync(string key) => GetAsync(Utf8(key));

    public Task<byte[]> GetAsync(byte[] key) =>
        Call(
            "get",
            h =>
            {
                fixed (byte* k = key)
                {
                    byte* err = null;
                    byte* data = null;
                    nuint len = 0;
                    Check(_fn.Get(h, k, (nuint)key.Length, &data, &len, &err), err);
                    return Take(data, len);
                }
            });

    public Task<string> GetStringAsync(string key) => GetAsync(key).AsUtf8();

    public Task<long> AddAsync(string key, long delta) =>
        Call(
            "add",
            h =>
            {
                var kb = Utf8(key);
                fixed (byte* k = kb)
                {
                    byte* err = null;
                    long result = 0;
                    Check(_fn.Add(h, k, (nuint)kb.Length, delta, &result, &err), err);
                    return result;
                }
            });

    public Task<byte[]> CompareSetAsync(string key, byte[] expected, byte[] desired) =>
        Call(
            "compareSet",
            h =>
            {
                var kb = Utf8(key);
                fixed (byte* k = kb)
                fixed (byte* e = expected)
                fixed (byte* d = desired)
                {
                    byte* err = null;
                    byte* data = null;
                    nuint len = 0;
                    Check(
                        _fn.CompareSet(
                            h, k, (nuint)kb.Length, e, (nuint)expected.Length, d, (nuint)desired.Length, &data, &len,
                            &err),
                        err);
                    return Take(data, len);
                }
            });

    public Task<string> CompareSetAsync(string key, string expected, string desired) =>
        CompareSetAsync(key, Utf8(expected), Utf8(desired)).AsUtf8();

    public Task<bool> CheckAsync(params string[] keys) =>
        Call(
            "check",
            h =>
            {
                using var list = new KeyList(keys.Select(Utf8).ToArray());
                byte* err = null;
                int ready = 0;
                Check(_fn.Check(h, list.Pointers, list.Lengths, list.Count, &ready, &err), err);
                return ready != 0;
            });

    /// <summary>wait(keys) with the store's timeout, or wait(keys, timeout).</summary>
    public Task WaitAsync(string[] keys, TimeSpan? timeout = null) =>
        Call(
            "wait",
            h =>
            {
                using var list = new KeyList(keys.Select(Utf8).ToArray());
                byte* err = null;
                var ms = timeout is { } t ? (long)t.TotalMilliseconds : -1;
                Check(_fn.Wait(h, list.Pointers, list.Lengths, list.Count, ms, &err), err);
                return true;
            });

    public Task<bool> DeleteKeyAsync(string key) =>
        Call(
            "deleteKey",
            h =>
            {
                var kb = Utf8(key);
                fixed (byte* k = kb)
                {
                    byte* err = null;
                    int deleted = 0;
                    Check(_fn.DeleteKey(h, k, (nuint)kb.Length, &deleted, &err), err);
                    return deleted != 0;
                }
            });

    public Task<long> GetNumKeysAsync() =>
        Call(
            "getNumKeys",
            h =>
            {
                byte* err = null;
                long n = 0;
                Check(_fn.NumKeys(h, &n, &err), err);
                return n;
            });

    public Task AppendAsync(string key, string value) =>
        KeyValueCall("append", KeyValueOp.Append, Utf8(key), Utf8(value));

    public Task<byte[][]> MultiGetAsync(params string[] keys) =>
        Call(
            "multiGet",
            h =>
            {
                using var list = new KeyList(keys.Select(Utf8).ToArray());
                byte* err = null;
                byte* data = null;
                nuint len = 0;
                Check(_fn.MultiGet(h, list.Pointers, list.Lengths, list.Count, &data, &len, &err), err);
                return Unpack(Take(data, len));
            });

    public Task MultiSetAsync(string[] keys, byte[][] values) =>
        Call(
            "multiSet",
            h =>
            {
                using var ks = new KeyList(keys.Select(Utf8).ToArray());
                using var vs = new KeyList(values);
                byte* err = null;
                Check(_fn.MultiSet(h, ks.Pointers, ks.Lengths, vs.Pointers, vs.Lengths, ks.Count, &err), err);
                return true;
            });

    public Task QueuePushAsync(string key, string value) =>
        KeyValueCall("queuePush", KeyValueOp.QueuePush, Utf8(key), Utf8(value));

    private enum KeyValueOp { Set, Append, QueuePush }

    /// <summary>SET, APPEND and QUEUE_PUSH: the same native signature (handle, key, value) and no result.</summary>
    private Task KeyValueCall(string name, KeyValueOp op, byte[] key, byte[] value) =>
        Call(
            name,
            h =>
            {
                fixed (byte* k = key)
                fixed (byte* v = value)
                {
                    byte* err = null;
                    var fn = op switch
                    {
                        KeyValueOp.Set => _fn.Set,
                        KeyValueOp.Append => _fn.Append,
                        _ => _fn.QueuePush,
                    };
                    Check(fn(h, k, (nuint)key.Length, v, (nuint)value.Length, &err), err);
                }

                return true;
            });

    public Task<string> QueuePopAsync(string key, bool block) =>
            Call(
                "queuePop",
                h =>
                {
                    var kb = Utf8(key);
                    fixed (byte* k = kb)
                    {
                        byte* err = null;
                        byte* data = null;
                        nuint len = 0;
                        Check(_fn.QueuePop(h, k, (nuint)kb.Length, block ? 1 : 0, &data, &len, &err), err);
                        return Take(data, len);
                    }
                }).AsUtf8();

    public Task<long> QueueLenAsync(string key) =>
        Call(
            "queueLen",
            h =>
            {
                var kb = Utf8(key);
                fixed (byte* k = kb)
                {
                    byte* err = null;
                    long n = 0;
                    Check(_fn.QueueLen(h, k, (nuint)kb.Length, &n, &err), err);
                    return n;
                }
            });

    public Task<string[]> ListKeysAsync() =>
        Call(
            "listKeys",
            h =>
            {
                byte* err = null;
                byte* data = null;
                nuint len = 0;
                Check(_fn.ListKeys(h, &data, &len, &err), err);
                return Unpack(Take(data, len)).Select(b => Encoding.UTF8.GetString(b)).ToArray();
            });

    /// <summary>Store::setTimeout: the default timeout of get/wait/multiGet/blocking queuePop.</summary>
    public Task SetTimeoutAsync(TimeSpan timeout) =>
        Call(
            "setTimeout",
            h =>
            {
                byte* err = null;
                Check(_fn.SetTimeout(h, (long)timeout.TotalMilliseconds, &err), err);
                return true;
            });

    /// <summary>
    /// Test hook: replaces this client's key prefix ("/") so it can name raw wire keys such as <c>init/</c>.
    /// </summary>
    public Task SetKeyPrefixAsync(string prefix) =>
        Call(
            "setKeyPrefix",
            h =>
            {
                var pb = Utf8(prefix + "\0");
                fixed (byte* p = pb)
                {
                    byte* err = null;
                    Check(_fn.SetKeyPrefix(h, p, &err), err);
                }

                return true;
            });

    /// <summary>TCPStore::clone(): a new, independent connection to the same server.</summary>
    public Task<TorchStore> CloneAsync()
    {
        var shim = NativeShim.Instance;
        return Call(
            "clone",
            h =>
            {
                byte* err = null;
                nint clone = 0;
                Check(_fn.Clone(h, &clone, &err), err);
                return new TorchStore(shim, clone, Host);
            });
    }

    public void Dispose()
    {
        nint toClose;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (_inFlight > 0) return; // the last running call closes it (see Exit)
            toClose = _handle;
            _handle = 0;
        }

        _fn.Close(toClose);
    }

    private Task<T> Call<T>(string what, Func<nint, T> body)
    {
        nint handle;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _inFlight++;
            handle = _handle;
        }

        return Guarded.Run(
            () =>
            {
                try
                {
                    return body(handle);
                }
                finally
                {
                    Exit();
                }
            },
            CallDeadline,
            what);
    }

    private void Exit()
    {
        nint toClose = 0;
        lock (_gate)
        {
            _inFlight--;
            if (_disposed && _inFlight == 0 && _handle != 0)
            {
                toClose = _handle;
                _handle = 0;
            }
        }

        if (toClose != 0) _fn.Close(toClose);
    }

    private void Check(int rc, byte* err) => ThrowIfFailed(_fn, rc, err);

    private static void ThrowIfFailed(NativeShim.Functions fn, int rc, byte* err)
    {
        if (rc == 0) return;
        var message = err == null ? $"shim error {rc} without a message" : Marshal.PtrToStringUTF8((nint)err) ?? "";
        if (err != null) fn.Free(err);
        throw new TorchStoreException(message);
    }

    private byte[] Take(byte* data, nuint len)
    {
        try
        {
            return new ReadOnlySpan<byte>(data, checked((int)len)).ToArray();
        }
        finally
        {
            _fn.Free(data);
        }
    }

    private static byte[][] Unpack(byte[] packed)
    {
        var items = new List<byte[]>();
        var rest = packed.AsSpan();
        while (rest.Length > 0)
        {
            var n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(rest));
            items.Add(rest.Slice(8, n).ToArray());
            rest = rest[(8 + n)..];
        }

        return items.ToArray();
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Byte strings laid out as the shim's parallel (pointers, lengths) arrays, pinned while alive.</summary>
    private sealed class KeyList : IDisposable
    {
        private readonly GCHandle[] _pins;
        private readonly nint[] _pointers;
        private readonly nuint[] _lengths;
        private GCHandle _pointersPin;
        private GCHandle _lengthsPin;

        public KeyList(byte[][] items)
        {
            _pins = new GCHandle[items.Length];
            _pointers = new nint[Math.Max(1, items.Length)];
            _lengths = new nuint[Math.Max(1, items.Length)];
            for (var i = 0; i < items.Length; i++)
            {
                _pins[i] = GCHandle.Alloc(items[i], GCHandleType.Pinned);
                _pointers[i] = _pins[i].AddrOfPinnedObject();
                _lengths[i] = (nuint)items[i].Length;
            }

            _pointersPin = GCHandle.Alloc(_pointers, GCHandleType.Pinned);
            _lengthsPin = GCHandle.Alloc(_lengths, GCHandleType.Pinned);
            Count = (nuint)items.Length;
        }

        public nuint Count { get; }

        public byte** Pointers => (byte**)_pointersPin.AddrOfPinnedObject();

        public nuint* Lengths => (nuint*)_lengthsPin.AddrOfPinnedObject();

        public void Dispose()
        {
            foreach (var pin in _pins) pin.Free();
            _pointersPin.Free();
            _lengthsPin.Free();
        }
    }
}

/// <summary>Async helpers kept out of <see cref="TorchStore"/>'s unsafe context (no await is allowed there).</summary>
internal static class Guarded
{
    public static async Task<T> Run<T>(Func<T> body, TimeSpan deadline, string what)
    {
        // A dedicated thread per call: calls block in native code (waits, barriers of 64 clients), which would
        // starve the thread pool.
        var task = Task.Factory.StartNew(
            body,
            CancellationToken.None,
            TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach,
            TaskScheduler.Default);
        try
        {
            return await task.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"Interop: PyTorch's TCPStore {what} did not return within {deadline.TotalSeconds:0.#} s; the call " +
                "was abandoned (its thread and store are leaked).");
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    public static async Task<string> AsUtf8(this Task<byte[]> bytes) => Encoding.UTF8.GetString(await bytes);
}
