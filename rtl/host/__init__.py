"""Host side of the system, gateware and software side by side (Glasgow style).

* :mod:`.wishbone` - the bus (Wishbone B4 classic signature);
* :mod:`.regmap` - the register map: one definition for the gateware and the driver;
* :mod:`.csr` - :class:`~.csr.HostInterface`, the CSR block around :class:`rtl.top.DystaTop`;
* :mod:`.uart`, :mod:`.bridge` - a UART and the UART-to-Wishbone bridge for a board;
* :mod:`.protocol` - the bridge's byte protocol (shared by gateware tests and driver);
* :mod:`.driver` - the Python driver and its transports (simulated bus, simulated UART,
  a serial port).
"""
