using TcpStore.TestSupport;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// A TCPStore server that the interop tests drive with PyTorch's real client. One target (an xunit class fixture
/// of one concrete test class) may start several independent server instances: a shared one for most tests and a
/// fresh one for each test that needs an empty store (exact key counts). It stops all of them when disposed.
/// </summary>
/// <remarks>
/// A target for OUR server (TcpStore.Akka) derives from this class, starts the server on 127.0.0.1 with port 0
/// (or any free port) in <see cref="StartAsync"/>, and is used by <c>OurServerInteropTests : InteropTests</c>.
/// </remarks>
public abstract class StoreTarget : IAsyncLifetime
{
    private readonly Lazy<Task<(string Host, int Port)>> _shared;

    protected StoreTarget() => _shared = new Lazy<Task<(string Host, int Port)>>(StartAsync);

    /// <summary>The instance shared by the tests of one class (started on first use; tests use unique keys).</summary>
    public Task<(string Host, int Port)> SharedAsync() => _shared.Value;

    /// <summary>Human-readable name, used in assertion messages.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// Starts a new, empty server instance and returns where PyTorch's client can reach it. The instance keeps
    /// running until the target is disposed.
    /// </summary>
    public abstract Task<(string Host, int Port)> StartAsync();

    /// <summary>Stops every server instance this target started.</summary>
    public abstract Task DisposeAsync();

    /// <summary>Nothing to do before the first test; servers start on demand.</summary>
    public virtual Task InitializeAsync() => Task.CompletedTask;
}

/// <summary>The reference: PyTorch 2.10's own libuv server (its default backend), in this process via the shim.</summary>
public sealed class PyTorchLibuvTarget : StoreTarget
{
    private readonly List<TorchStore> _servers = [];
    private readonly SemaphoreSlim _lock = new(1, 1);

    public override string Name => "PyTorch 2.10 libuv server";

    public override async Task<(string Host, int Port)> StartAsync()
    {
        // waitWorkers=false and no world size: the server neither counts nor waits for workers (like torchrun's
        // agent store), so it starts empty (no init/ key).
        var server = await TorchStore.StartServerAsync(useLibUv: true, timeout: TimeSpan.FromSeconds(30));
        Assert.True(server.IsLibUvBackend, "the reference server must be PyTorch's libuv backend");
        Assert.NotEqual(0, server.Port);
        await _lock.WaitAsync();
        try
        {
            _servers.Add(server);
        }
        finally
        {
            _lock.Release();
        }

        return ("127.0.0.1", server.Port);
    }

    public override async Task DisposeAsync()
    {
        await _lock.WaitAsync();
        try
        {
            foreach (var server in _servers) server.Dispose();
            _servers.Clear();
        }
        finally
        {
            _lock.Release();
        }
    }
}

/// <summary>Our server (TcpStore.Akka), in this process, exactly as <c>WithTcpStore</c> runs it.</summary>
public sealed class OurServerTarget : StoreTarget
{
    private readonly List<TestStoreServer> _servers = [];
    private readonly SemaphoreSlim _lock = new(1, 1);

    public override string Name => "TcpStore.Akka";

    public override async Task<(string Host, int Port)> StartAsync()
    {
        var server = await TestStoreServer.StartAsync();
        await _lock.WaitAsync();
        try
        {
            _servers.Add(server);
        }
        finally
        {
            _lock.Release();
        }

        return (server.Host, server.Port);
    }

    public override async Task DisposeAsync()
    {
        await _lock.WaitAsync();
        try
        {
            foreach (var server in _servers) await server.DisposeAsync();
            _servers.Clear();
        }
        finally
        {
            _lock.Release();
        }
    }
}
