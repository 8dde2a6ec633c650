using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;

namespace TcpStore.Akka.EventLoops;

/// <summary>
/// The event loops of one actor system (an Akka extension): <c>tcpstore.tcp.event-loops.count</c> threads, each an
/// <see cref="EventLoop"/>, and one Akka dispatcher per loop, <c>tcpstore.tcp.event-loops.loop-N</c>, whose
/// executor is that loop (<see cref="EventLoopExecutorConfigurator"/>, named by type in the dispatcher's HOCON). An
/// actor or a stream placed on that dispatcher runs on the loop's thread, beside the sockets the loop polls. The loops
/// stop when the actor system has terminated.
/// </summary>
public sealed class EventLoopGroup : IExtension
{
    /// <summary>The HOCON path under which the loops' dispatchers are defined.</summary>
    public const string DispatchersPath = "tcpstore.tcp.event-loops";

    /// <summary>The executor type a dispatcher names to run on a loop (with <c>event-loop = N</c>).</summary>
    public static readonly string ExecutorTypeName =
        $"{typeof(EventLoopExecutorConfigurator).FullName}, {typeof(EventLoopExecutorConfigurator).Assembly.GetName().Name}";

    private readonly EventLoop[] _loops;

    internal EventLoopGroup(ExtendedActorSystem system)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("Event loops use epoll, which only Linux has (tcpstore.tcp.transport = sockets elsewhere).");

        var settings = TcpStoreSettings.Create(system).Listener.EventLoops;
        var eventStream = system.EventStream;
        _loops = new EventLoop[settings.Count];
        for (var i = 0; i < _loops.Length; i++)
        {
            var name = $"tcpstore-loop-{i}";
            _loops[i] = new EventLoop(name, e => eventStream.Publish(new Error(e, name, typeof(EventLoop),
                $"An event loop's work threw: {e.Message}")), settings.MaxTurn);
        }

        system.Settings.InjectTopLevelFallback(ConfigurationFactory.ParseString(DispatchersHocon(settings)));
        system.RegisterOnTermination(() =>
        {
            foreach (var loop in _loops) loop.Dispose();
        });
    }

    /// <summary>The event loops of <paramref name="system"/>, started on first use.</summary>
    public static EventLoopGroup For(ActorSystem system) => system.WithExtension<EventLoopGroup, EventLoopGroupProvider>();

    /// <summary>How many loops there are.</summary>
    public int Count => _loops.Length;

    /// <summary>The id of the dispatcher that runs actors and streams on loop <paramref name="index"/>.</summary>
    public static string DispatcherId(int index) => $"{DispatchersPath}.loop-{index.ToString(CultureInfo.InvariantCulture)}";

    internal EventLoop this[int index] => _loops[index];

    /// <summary>One dispatcher per loop, each naming the loop executor by type.</summary>
    private static string DispatchersHocon(EventLoopSettings settings)
    {
        var hocon = new StringBuilder();
        for (var i = 0; i < settings.Count; i++)
        {
            hocon.Append(DispatcherId(i)).Append(" {\n")
                .Append("  type = Dispatcher\n")
                .Append("  executor = \"").Append(ExecutorTypeName).Append("\"\n")
                .Append("  event-loop = ").Append(i.ToString(CultureInfo.InvariantCulture)).Append('\n')
                .Append("  throughput = ").Append(settings.Throughput.ToString(CultureInfo.InvariantCulture)).Append('\n')
                // One actor's turn ends at the loop's max-turn too (checked after each message; whole milliseconds,
                // what Akka's HOCON reads), so that one busy actor (a host materializing a storm's connections)
                // cannot hold the loop much past it.
                .Append("  throughput-deadline-time = ")
                .Append(Math.Max(1L, (long)Math.Ceiling(settings.MaxTurn.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture))
                .Append("ms\n")
                .Append("}\n");
        }

        return hocon.ToString();
    }
}

/// <summary>Creates the <see cref="EventLoopGroup"/> extension.</summary>
public sealed class EventLoopGroupProvider : ExtensionIdProvider<EventLoopGroup>
{
    public override EventLoopGroup CreateExtension(ExtendedActorSystem system) => new(system);
}

/// <summary>
/// An executor configurator (named by type in a dispatcher's <c>executor</c> key) whose executor is one of the actor
/// system's event loops: the dispatcher's <c>event-loop</c> key (default 0) says which. The loops' own dispatchers
/// name it; a host may name it too, to run an actor of its own on a loop (it then shares that loop's thread with
/// the connections, so it must never block).
/// </summary>
public sealed class EventLoopExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly EventLoop _loop;

    public EventLoopExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        // Checked here, when the dispatcher is looked up (ActorOf), rather than when its executor is first used (in
        // the middle of an actor's start, where the error would only be logged).
        var index = config.GetInt("event-loop", 0);
        var group = EventLoopGroup.For(prerequisites.Settings.System);
        if (index < 0 || index >= group.Count)
            throw new ConfigurationException($"{config.GetString("id", "a dispatcher")}: event-loop = {index}, but " +
                                             $"there are {group.Count} event loops ({EventLoopGroup.DispatchersPath}.count).");
        _loop = group[index];
    }

    public override ExecutorService Produce(string id) => new EventLoopExecutor(id, _loop);
}

/// <summary>The executor of a dispatcher whose actors run on one <see cref="EventLoop"/>.</summary>
internal sealed class EventLoopExecutor(string id, EventLoop loop) : ExecutorService(id)
{
    public override void Execute(IRunnable run) => loop.Execute(run);

    // The loop belongs to the group, which stops it with the actor system: a dispatcher that has had no actors for
    // its shutdown-timeout lets its executor go, and takes a new one (the same loop) when it gets actors again.
    public override void Shutdown()
    {
    }
}
