"""Range locks an index carries as ``idx.lock``.

``api``        handles, guards, statistics and the ``LockBase`` every kind shares
``rwsem``      ``RWSemaphore``: the FIFO reader/writer semaphore (``mmap_sem``)
``rangelock``  ``RangeLock``: Bueso's interval-tree range lock (the default)
"""
