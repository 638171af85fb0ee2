/** The vhost-user wire format: constants and messages. Private to the bundle. */
package vmm.vhostuser.protocol;
