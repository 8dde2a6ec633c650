using Akka.Actor;
using Akka.Configuration;
using TcpStore.Akka.EventLoops;

namespace TcpStore.Akka.Tests.EventLoops;

/// <summary>
/// The event loops as Akka dispatchers: the generated <c>tcpstore.tcp.event-loops.loop-N</c> dispatchers and a
/// host's own dispatcher naming the loop executor by type run their actors on the loop threads; a message between two
/// actors of one loop stays on it; the loops stop with the actor system.
/// </summary>
public sealed class EventLoopDispatcherSpec() : global::Akka.TestKit.Xunit2.TestKit(Config)
{
    private static readonly Config Config = ConfigurationFactory.ParseString($$"""
        akka.loglevel = OFF
        tcpstore.tcp.event-loops.count = 2
        my-actor-on-loop-1 {
          type = Dispatcher
          executor = "{{EventLoopGroup.ExecutorTypeName}}"
          event-loop = 1
        }
        my-actor-on-loop-7 {
          type = Dispatcher
          executor = "{{EventLoopGroup.ExecutorTypeName}}"
          event-loop = 7
        }
        """);

    /// <summary>Answers "where" with its thread's name; on "go" tells <c>next</c> 100 numbers.</summary>
    private sealed class ThreadReporter : ReceiveActor
    {
        public ThreadReporter(IActorRef? next, IActorRef? done)
        {
            Receive<string>(m => m == "where", _ => Sender.Tell(Thread.CurrentThread.Name ?? "?"));
            Receive<string>(m => m == "go", _ =>
            {
                for (var i = 1; i <= 100; i++) next!.Tell(i);
            });
            Receive<int>(i =>
            {
                if (i == 100) done!.Tell(Thread.CurrentThread.Name ?? "?");
            });
        }
    }

    private IActorRef Reporter(string dispatcher, IActorRef? next = null, IActorRef? done = null) =>
        Sys.ActorOf(Props.Create(() => new ThreadReporter(next, done)).WithDispatcher(dispatcher));

    [Fact]
    public void The_loop_dispatchers_run_their_actors_on_the_loop_threads()
    {
        var group = EventLoopGroup.For(Sys);
        Assert.Equal(2, group.Count);
        Reporter(EventLoopGroup.DispatcherId(0)).Tell("where");
        ExpectMsg("tcpstore-loop-0");
        Reporter(EventLoopGroup.DispatcherId(1)).Tell("where");
        ExpectMsg("tcpstore-loop-1");
    }

    [Fact]
    public void A_dispatcher_of_the_host_naming_the_loop_executor_runs_on_the_loop_it_names()
    {
        EventLoopGroup.For(Sys);
        Reporter("my-actor-on-loop-1").Tell("where");
        ExpectMsg("tcpstore-loop-1");
    }

    [Fact]
    public void A_message_between_two_actors_of_one_loop_is_a_queue_push_that_wakes_nothing()
    {
        var group = EventLoopGroup.For(Sys);
        var second = Reporter(EventLoopGroup.DispatcherId(0), done: TestActor);
        var first = Reporter(EventLoopGroup.DispatcherId(0), next: second);
        first.Tell("where");
        ExpectMsg("tcpstore-loop-0");
        second.Tell("where");
        ExpectMsg("tcpstore-loop-0");

        var before = group[0].WakeUps;
        first.Tell("go"); // from this thread: wakes the loop if it sleeps
        ExpectMsg("tcpstore-loop-0");
        // The 100 messages from the first actor to the second stayed on the loop's thread: no wake-up for them.
        Assert.InRange(group[0].WakeUps - before, 0, 1);
    }

    [Fact]
    public void A_loop_that_does_not_exist_is_refused_when_the_dispatcher_starts()
    {
        EventLoopGroup.For(Sys);
        // Refused by ActorOf itself (Akka wraps the configurator's exception, so the cause is in the chain).
        var error = Assert.IsType<ConfigurationException>(Record.Exception(() => Reporter("my-actor-on-loop-7")));
        Assert.Contains("event-loop = 7, but there are 2 event loops", error.ToString());
    }

    [Fact]
    public async Task The_loops_stop_when_the_actor_system_terminates()
    {
        var system = ActorSystem.Create("loops", Config);
        var group = EventLoopGroup.For(system);
        Assert.True(group[0].IsRunning && group[1].IsRunning);
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await AwaitAsync(() => !group[0].IsRunning && !group[1].IsRunning));
    }

    private static async Task<bool> AwaitAsync(Func<bool> condition)
    {
        // The loops stop in the system's termination callbacks, which run right after Terminate's task completes.
        for (var i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        return condition();
    }
}
