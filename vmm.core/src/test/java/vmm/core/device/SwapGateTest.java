package vmm.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;

import vmm.core.Await;

class SwapGateTest {

    @Test
    void anOpenGateLetsAccessesThrough() {
        SwapGate g = new SwapGate(10);
        assertThat(g.enter()).isTrue();
        g.exit();
    }

    @Test
    void aClosedGateHoldsAnAccessUntilItOpens() throws Exception {
        SwapGate g = new SwapGate(Await.BOUND.toMillis());
        g.close();
        AtomicBoolean entered = new AtomicBoolean();
        Thread access = Thread.ofPlatform().start(() -> entered.set(g.enter()));
        Await.untilWaiting(access);
        assertThat(access.isAlive()).as("held at the gate").isTrue();
        g.open();
        access.join(Await.BOUND);
        assertThat(entered).isTrue();
    }

    @Test
    void aClosedGateGivesUpAfterItsBound() throws Exception {
        SwapGate g = new SwapGate(20);
        g.close();
        assertThat(CompletableFuture.supplyAsync(g::enter).get(Await.BOUND.toSeconds(), TimeUnit.SECONDS)).isFalse();
        assertThat(g.timedOutAccesses()).isEqualTo(1);
    }

    @Test
    void closingWaitsForAccessesInProgress() throws Exception {
        SwapGate g = new SwapGate(Await.BOUND.toMillis());
        assertThat(g.enter()).isTrue();
        Thread closing = Thread.ofPlatform().start(g::close);
        Await.untilWaiting(closing);
        assertThat(closing.isAlive()).as("waiting for the access in progress").isTrue();
        g.exit();
        closing.join(Await.BOUND);
        assertThat(closing.isAlive()).isFalse();
        assertThat(g.isClosed()).isTrue();
    }

    @Test
    void theClosingThreadPassesAndAnotherThreadMayOpen() throws Exception {
        SwapGate g = new SwapGate(10);
        g.close();
        assertThat(g.enter()).isTrue();
        g.exit();
        CompletableFuture.runAsync(g::open).get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(g.isClosed()).isFalse();
    }
}
