using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using TcpStore.Akka.Hosting;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Tests.Hosting;

/// <summary>The guardian's strategy: a child that throws is resumed with its state, never restarted.</summary>
public sealed class SupervisionTests() : global::Akka.TestKit.Xunit2.TestKit("akka.loglevel = OFF")
{
    /// <summary>Stands in for the store: keeps a count, throws on demand outside any handler of its own.</summary>
    private sealed class FaultyStore : ReceiveActor
    {
        private int _count;

        public FaultyStore()
        {
            Receive<string>(message => message == "increment", _ => _count++);
            Receive<string>(message => message == "throw", _ => throw new InvalidOperationException("injected fault"));
            Receive<string>(message => message == "count", _ => Sender.Tell(_count));
        }
    }

    private IActorRef StartGuardian(Props storeProps)
    {
        var settings = TcpStoreSettings.Create(ConfigurationFactory.ParseString("host = \"127.0.0.1\", port = 0"));
        var guardian = Sys.ActorOf(TcpStoreGuardian.Props(settings, new StandaloneStoreProvider(storeProps)), "tcpstore");
        guardian.Tell(TcpStoreGuardian.GetComponents.Instance);
        return ExpectMsg<TcpStoreGuardian.Components>(TimeSpan.FromSeconds(10)).Store;
    }

    [Fact]
    public void A_store_that_throws_is_resumed_with_its_state()
    {
        var store = StartGuardian(Props.Create(() => new FaultyStore()));
        store.Tell("increment");
        store.Tell("increment");
        store.Tell("throw");
        store.Tell("increment");
        store.Tell("count");
        ExpectMsg(3, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void The_real_store_keeps_its_keys_when_a_fault_is_injected_into_one_request()
    {
        // The fault injector throws inside the store's per-query handling: the store rejects that one request
        // (its connection is closed) and keeps everything else.
        var store = StartGuardian(StoreActor.Props(new StoreLimits(1024), query =>
        {
            if (query is Query.Get { Key.Length: 6 }) throw new InvalidOperationException("injected fault");
        }));
        var good = CreateTestProbe();
        var bad = CreateTestProbe();
        store.Tell(new StoreProtocol.Execute(good.Ref, [new Query.Set("/keep"u8.ToArray(), "v"u8.ToArray())]));
        good.ExpectMsg<StoreProtocol.Executed>();
        store.Tell(new StoreProtocol.Execute(bad.Ref, [new Query.Get("/boom!"u8.ToArray())]));
        var rejected = bad.ExpectMsg<StoreProtocol.Executed>();
        Assert.Equal(RejectionReasons.InternalError, rejected.Rejection?.Reason);
        store.Tell(new StoreProtocol.Execute(good.Ref, [new Query.Get("/keep"u8.ToArray())]));
        var reply = Assert.IsType<Reply.Bytes>(Assert.Single(good.ExpectMsg<StoreProtocol.Executed>().Replies));
        Assert.Equal("v"u8.ToArray(), reply.Value);
    }
}
